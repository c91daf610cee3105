"""kcost's own telemetry: Prometheus metrics, JSON logs and OpenTelemetry traces."""
