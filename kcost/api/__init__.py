"""The kcost API (``optimizer.kcost.dev``): typed models shared by every layer."""
