"""Seeded, deterministic scenarios: workloads in the API server plus their history in Prometheus."""
