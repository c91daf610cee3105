"""Admission webhooks (``kcost.webhooks``): validation, mutation and the policy engine they use.

Imported as ``kcost.webhooks``; ``kcost/webhooks`` links to this folder.
"""
