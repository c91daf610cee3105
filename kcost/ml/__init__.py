"""Learned models: calibrated confidence, workload classes, cost forecast, anomalies.

Pure computation over numbers the analyzers and the history store hand in; it never
talks to the Kubernetes API, so models can be trained and benchmarked offline.
"""
