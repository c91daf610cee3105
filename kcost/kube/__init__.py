"""Talking to the Kubernetes API: a typed wrapper over kubernetes_asyncio for kcost's needs."""
