"""Analyzer sidecars (``kcost.analyzers``): metrics loading, strategies, pricing and cost, forecast, anomaly.

Imported as ``kcost.analyzers``; ``kcost/analyzers`` links to this folder.
"""
