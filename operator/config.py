"""Operator configuration, read from ``KCOST_*`` environment variables."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field


def _random_priority() -> int:
    # Replicas must not share a priority: kopf freezes all of them when two do.
    return random.SystemRandom().randint(1, 2**30)


@dataclass(frozen=True)
class OperatorConfig:
    """Each attribute documents the variable it comes from."""

    #: KCOST_TIMER_SECONDS: how often each object is reconciled even without a change.
    timer_interval_s: float = 10.0
    #: KCOST_PEERING_NAME: the ClusterKopfPeering replicas meet in; only the highest priority acts.
    peering_name: str = "kcost"
    #: KCOST_PRIORITY: this replica's priority (default: random, unique in practice).
    priority: int = field(default_factory=_random_priority)
    #: KCOST_PEERING_LIFETIME_SECONDS: how long a silent replica still counts as alive.
    peering_lifetime_s: int = 60
    #: KCOST_PROMETHEUS_TIMEOUT_SECONDS: per-check timeout for a profile's Prometheus.
    prometheus_timeout_s: float = 10.0
    #: KCOST_LIVENESS_ENDPOINT: e.g. http://0.0.0.0:8080/healthz; empty for none.
    liveness_endpoint: str | None = None

    @classmethod
    def from_env(cls) -> OperatorConfig:
        env = os.environ
        defaults = cls()
        return cls(
            timer_interval_s=float(env.get("KCOST_TIMER_SECONDS", defaults.timer_interval_s)),
            peering_name=env.get("KCOST_PEERING_NAME", defaults.peering_name),
            priority=int(env["KCOST_PRIORITY"]) if env.get("KCOST_PRIORITY") else defaults.priority,
            peering_lifetime_s=int(env.get("KCOST_PEERING_LIFETIME_SECONDS", defaults.peering_lifetime_s)),
            prometheus_timeout_s=float(env.get("KCOST_PROMETHEUS_TIMEOUT_SECONDS", defaults.prometheus_timeout_s)),
            liveness_endpoint=env.get("KCOST_LIVENESS_ENDPOINT") or None,
        )
