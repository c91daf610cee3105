"""Loading metrics: the Prometheus client and the queries analyzers share."""
