"""``kcost api``: the status API — the CRDs (from watch caches) and the cost history over HTTP, as the calling user.

Modules by concern: ``cache`` (list+watch of the four kinds), ``gateway`` (the calls to the
API server: token and access reviews, impersonated writes), ``auth`` (who is calling and
what they may do, cached briefly; rate limits), ``schemas`` (the JSON shapes, from the
CRD models), ``views`` and ``costs`` (the handlers), ``events`` (the live stream),
``openapi`` (the document, from the same operation table the router uses), ``app``.
"""
