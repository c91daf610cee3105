"""kcost's configuration: every ``KCOST_*`` environment variable, read in one place.

``Config.from_env()`` reads them once at a process's start; each field's alias is the
variable it comes from and its description says what it means. A bad value stops
the process with a ``ConfigError`` that names the variable, the value and what is
expected, rather than surfacing later as a stray ``ValueError``.

The dev harness's own variables (``KCOST_DEV_DIR``, ``KCOST_CACHE_DIR``,
``KCOST_SHARED_DATA``) are not the product's and stay with it.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """A ``KCOST_*`` variable has a value kcost cannot use; the message names it and what is expected."""


class KubeconfigError(ConfigError):
    """No usable way to reach the API server: the kubeconfig is missing or invalid, and this is no Pod."""


def _random_priority() -> int:
    # Replicas must not share a priority: kopf freezes all of them when two do.
    return random.SystemRandom().randint(1, 2**30)


class Config(BaseModel):
    """Each field is read from the variable named by its alias; unset or empty means the default."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    namespace: str = Field(
        "kcost-system",
        alias="KCOST_NAMESPACE",
        min_length=1,
        description="where Secrets and ConfigMaps referenced without a namespace are read",
    )
    # -- observability
    log_format: Literal["text", "json"] = Field(
        "text",
        alias="KCOST_LOG_FORMAT",
        description="text (for a terminal) or json (one object per line, with object, run and trace ids)",
    )
    metrics_port: int | None = Field(
        None,
        alias="KCOST_METRICS_PORT",
        ge=0,
        le=65535,
        description="port of /metrics (unset or 0: off); `kcost run` gives its N-th process this port plus N",
    )
    # -- operator
    timer_interval_s: float = Field(
        10.0,
        alias="KCOST_TIMER_SECONDS",
        gt=0,
        description="seconds between reconciles of an object even without a change",
    )
    peering_name: str = Field(
        "kcost",
        alias="KCOST_PEERING_NAME",
        min_length=1,
        description="the ClusterKopfPeering operator replicas meet in; only the highest priority acts",
    )
    priority: int = Field(
        default_factory=_random_priority,
        alias="KCOST_PRIORITY",
        ge=0,
        description="this operator replica's priority (default: random, unique in practice)",
    )
    peering_lifetime_s: int = Field(
        60,
        alias="KCOST_PEERING_LIFETIME_SECONDS",
        ge=1,
        description="seconds a silent operator replica still counts as alive",
    )
    prometheus_timeout_s: float = Field(
        10.0,
        alias="KCOST_PROMETHEUS_TIMEOUT_SECONDS",
        gt=0,
        description="the operator's cap, in seconds, on each check of a profile's Prometheus",
    )
    liveness_endpoint: str | None = Field(
        None,
        alias="KCOST_LIVENESS_ENDPOINT",
        description="where the operator answers liveness probes, e.g. http://0.0.0.0:8080/healthz",
    )
    # -- analyzers
    analyzer_poll_s: float = Field(
        2.0,
        alias="KCOST_ANALYZER_POLL_SECONDS",
        gt=0,
        description="seconds between an analyzer's looks for Running analyses",
    )
    analyzer_heartbeat_s: float = Field(
        10.0,
        alias="KCOST_ANALYZER_HEARTBEAT_SECONDS",
        gt=0,
        description="seconds between the heartbeats of an analyzer working on a run",
    )
    analyzer_stale_s: float = Field(
        60.0,
        alias="KCOST_ANALYZER_STALE_SECONDS",
        gt=0,
        description="seconds without a heartbeat after which another analyzer instance takes the run over",
    )
    analyzer_read_path: Literal["fast", "baseline"] = Field(
        "fast",
        alias="KCOST_ANALYZER_READ_PATH",
        description=(
            "how analyzers read usage from Prometheus: fast (one raw series per container, combined in the"
            " analyzer, uncompressed) or baseline (aggregated by PromQL, gzip: the earlier path, kept so that"
            " `kcost bench analysis` measures both)"
        ),
    )
    analyzer_cache_dir: str | None = Field(
        None,
        alias="KCOST_ANALYZER_CACHE_DIR",
        description=(
            "folder where analyzers keep their usage range answers, so that a re-run reads from Prometheus only"
            " the steps since the last run (unset: off; `kcost run` defaults it to a per-user cache folder, the"
            " Helm chart to an emptyDir); losing it costs a full read, never an answer"
        ),
    )
    analyzer_sizing_processes: int = Field(
        0,
        alias="KCOST_ANALYZER_SIZING_PROCESSES",
        ge=0,
        le=64,
        description=(
            "worker processes the rightsizing analyzer sizes in, while its own process reads and writes"
            " (0: a thread of its own process); each worker adds ~140 MiB, and helps only with cores to spare"
        ),
    )
    analyzer_cache_max_age_s: float = Field(
        86400.0,
        alias="KCOST_ANALYZER_CACHE_MAX_AGE_SECONDS",
        gt=0,
        description=(
            "seconds after which an analyzer reads the whole window from Prometheus again instead of the new steps"
            " only: how long a change to past samples (backfill, late writes) can go unseen"
        ),
    )
    cost_interval_s: float = Field(
        300.0,
        alias="KCOST_COST_INTERVAL_SECONDS",
        gt=0,
        description="seconds between two pricings of the cluster by the cost analyzer",
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///kcost-history.db",
        alias="KCOST_DATABASE_URL",
        min_length=1,
        description="SQLAlchemy URL of the history store (sqlite+aiosqlite:// or postgresql+asyncpg://)",
    )
    gcp_api_key: str | None = Field(
        None,
        alias="KCOST_GCP_API_KEY",
        repr=False,
        description="an API key for the GCP Cloud Billing Catalog (else Application Default Credentials)",
    )
    # -- admission webhook
    webhook_port: int = Field(
        9443, alias="KCOST_WEBHOOK_PORT", ge=1, le=65535, description="the fixed port the webhook serves TLS on"
    )
    webhook_url: str | None = Field(
        None,
        alias="KCOST_WEBHOOK_URL",
        pattern=r"^https://[^/\s]+$",
        description="https://HOST:PORT the API server calls, registered with the webhook configurations "
        "(default: https://127.0.0.1:KCOST_WEBHOOK_PORT); unset in a chart that registers a Service",
    )
    webhook_cert_dir: str = Field(
        "kcost-webhook-certs",
        alias="KCOST_WEBHOOK_CERT_DIR",
        min_length=1,
        description="where the webhook keeps the CA and serving certificate kcost manages",
    )
    webhook_cert_validity_s: float = Field(
        30 * 86400.0,
        alias="KCOST_WEBHOOK_CERT_VALIDITY_SECONDS",
        gt=0,
        description="lifetime of a serving certificate; it is renewed after two thirds of it",
    )
    webhook_ca_validity_s: float = Field(
        365 * 86400.0,
        alias="KCOST_WEBHOOK_CA_VALIDITY_SECONDS",
        gt=0,
        description="lifetime of the webhook's CA; renewed after two thirds, the old one trusted until it expires",
    )
    webhook_trusted_users: str = Field(
        "system:serviceaccount:kcost-system:kcost,kcost",
        alias="KCOST_WEBHOOK_TRUSTED_USERS",
        description="comma-separated users (kcost's own) the webhook never sees: a webhook that is down "
        "never blocks them (matchConditions)",
    )
    # -- status API
    api_port: int = Field(
        8090, alias="KCOST_API_PORT", ge=1, le=65535, description="the port `kcost api` serves HTTP on"
    )
    api_host: str = Field(
        "0.0.0.0",  # noqa: S104 - reached through a Service in a cluster
        alias="KCOST_API_HOST",
        min_length=1,
        description="the address `kcost api` listens on (127.0.0.1 keeps it local)",
    )
    api_auth_cache_s: float = Field(
        30.0,
        alias="KCOST_API_AUTH_CACHE_SECONDS",
        gt=0,
        description="seconds a TokenReview or SubjectAccessReview answer is reused (a revoked grant lasts this long)",
    )
    api_rate_per_s: float = Field(
        100.0, alias="KCOST_API_RATE_PER_SECOND", gt=0, description="requests per second allowed to each user"
    )
    api_burst: float = Field(
        200.0, alias="KCOST_API_BURST", ge=1, description="requests a user may make at once before the rate applies"
    )
    webhook_access_review_ttl_s: float = Field(
        0.0,
        alias="KCOST_WEBHOOK_ACCESS_REVIEW_TTL_SECONDS",
        ge=0,
        le=30,
        description="how long the webhook reuses a SubjectAccessReview that allowed the very same decision by the "
        "same user (0: asks every time); a revoked Role may still let that decision through this long",
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """The configuration from ``env`` (default ``os.environ``); raises ``ConfigError`` on a bad value."""
        env = os.environ if env is None else env
        given = {
            field.alias: env[field.alias]
            for field in cls.model_fields.values()
            if field.alias is not None and env.get(field.alias, "").strip()
        }
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            problems = []
            for problem in error.errors():
                variable = str(problem["loc"][0])
                field = next(f for f in cls.model_fields.values() if f.alias == variable)
                shown = "<redacted>" if field.repr is False else repr(given.get(variable))
                problems.append(f"{variable}={shown}: {problem['msg']} ({field.description})")
            raise ConfigError("invalid kcost configuration: " + "; ".join(problems)) from None

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Variable name → what it means: for help texts and the README."""
        return {f.alias: f.description or "" for f in cls.model_fields.values() if f.alias is not None}
