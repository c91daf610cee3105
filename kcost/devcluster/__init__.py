"""The dev cluster: a real local control plane, Prometheus and PostgreSQL for demos and tests."""
