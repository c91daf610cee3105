"""Pricing sources (``kcost.analyzers.pricing``): what a node costs per hour, from where, and how old that is.

- ``model``: ``NodePrice``, ``PriceKey``, ``PriceSheet`` (prices + rejected junk rows).
- Live price APIs, each async, retried, paged, TTL-cached: ``aws`` (Price List API and
  spot price history, boto3 in threads), ``gcp`` (Cloud Billing Catalog REST API),
  ``azure`` (Retail Prices API); ``azure_costs`` reads billed actual cost.
- Offline sources: ``catalog`` (a CSV price file), ``custom`` (unit rates with node
  pool overrides), ``rates`` (the default unit rates).
- ``chain``: live → last known (``store``) → catalog → default rates, with source and age.
- ``selfcheck`` flags suspicious prices; ``compare`` finds the cheapest types for a shape.
- Shared pieces: ``checks`` (junk checks), ``transport`` (HTTP, retries), ``cache``,
  ``credentials`` (redacted), ``shapes``, ``errors``.
"""
