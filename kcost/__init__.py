"""kcost: a Kubernetes-native cost optimizer."""
