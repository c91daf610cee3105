"""Right-sizing: container requests and limits from usage history (``kcost.analyzers.rightsizing``).

Pure computation on numpy arrays, no cluster access:

- ``history``: one container's usage history, the input of every strategy;
- ``recommendation``: what a strategy answers (a recommendation, or "not enough data");
- ``base``: the strategy plugin base class, its settings and the rounding shared by all;
- ``vpa``, ``krr_simple``: the two reference algorithms, from their published constants;
- ``adaptive``: kcost's own strategy;
- ``strategies``: the registry of strategies by name;
- ``traces`` and ``quality``: the offline benchmark that scores strategies on real traces.
"""
