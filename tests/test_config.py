"""kcost's one configuration: every KCOST_* variable parsed, and bad values named."""

from __future__ import annotations

import pytest

from kcost.analyzers.runtime import RuntimeSettings
from kcost.config import Config, ConfigError


def test_defaults_when_nothing_is_set() -> None:
    config = Config.from_env({})
    assert config.namespace == "kcost-system"
    assert config.timer_interval_s == 10.0
    assert config.analyzer_stale_s == 60.0
    assert config.database_url.startswith("sqlite+aiosqlite://")
    assert config.liveness_endpoint is None
    assert config.analyzer_cache_dir is None, "no range cache unless a folder is given"
    assert config.priority >= 1


def test_every_variable_is_read() -> None:
    env = {
        "KCOST_NAMESPACE": "costs",
        "KCOST_TIMER_SECONDS": "2.5",
        "KCOST_PEERING_NAME": "other",
        "KCOST_PRIORITY": "7",
        "KCOST_PEERING_LIFETIME_SECONDS": "6",
        "KCOST_PROMETHEUS_TIMEOUT_SECONDS": "3",
        "KCOST_LIVENESS_ENDPOINT": "http://0.0.0.0:8080/healthz",
        "KCOST_ANALYZER_POLL_SECONDS": "0.5",
        "KCOST_ANALYZER_HEARTBEAT_SECONDS": "1",
        "KCOST_ANALYZER_STALE_SECONDS": "5",
        "KCOST_ANALYZER_READ_PATH": "baseline",
        "KCOST_ANALYZER_CACHE_DIR": "/var/cache/kcost",
        "KCOST_ANALYZER_CACHE_MAX_AGE_SECONDS": "3600",
        "KCOST_ANALYZER_SIZING_PROCESSES": "3",
        "KCOST_COST_INTERVAL_SECONDS": "30",
        "KCOST_DATABASE_URL": "postgresql+asyncpg://db/kcost",
        "KCOST_GCP_API_KEY": "key-123",
        "KCOST_WEBHOOK_PORT": "8443",
        "KCOST_WEBHOOK_URL": "https://kcost-webhook.kcost-system.svc:443",
        "KCOST_WEBHOOK_CERT_DIR": "/certs",
        "KCOST_WEBHOOK_CERT_VALIDITY_SECONDS": "3600",
        "KCOST_WEBHOOK_CA_VALIDITY_SECONDS": "86400",
        "KCOST_WEBHOOK_TRUSTED_USERS": "system:serviceaccount:kcost:kcost",
        "KCOST_WEBHOOK_ACCESS_REVIEW_TTL_SECONDS": "5",
        "KCOST_LOG_FORMAT": "json",
        "KCOST_METRICS_PORT": "9100",
        "KCOST_API_PORT": "8091",
        "KCOST_API_HOST": "127.0.0.1",
        "KCOST_API_AUTH_CACHE_SECONDS": "5",
        "KCOST_API_RATE_PER_SECOND": "20",
        "KCOST_API_BURST": "40",
        "UNRELATED": "ignored",
    }
    config = Config.from_env(env)
    assert set(Config.variables()) == {k for k in env if k.startswith("KCOST_")}, "every variable is a field"
    assert (config.namespace, config.timer_interval_s, config.peering_name, config.priority) == (
        "costs",
        2.5,
        "other",
        7,
    )
    assert (config.peering_lifetime_s, config.prometheus_timeout_s) == (6, 3.0)
    assert config.liveness_endpoint == "http://0.0.0.0:8080/healthz"
    assert (config.cost_interval_s, config.database_url) == (30.0, "postgresql+asyncpg://db/kcost")
    assert config.gcp_api_key == "key-123"
    assert (config.webhook_port, config.webhook_cert_dir) == (8443, "/certs")
    assert config.webhook_url == "https://kcost-webhook.kcost-system.svc:443"
    assert (config.api_port, config.api_host, config.api_auth_cache_s) == (8091, "127.0.0.1", 5.0)
    assert (config.api_rate_per_s, config.api_burst) == (20.0, 40.0)
    assert (config.webhook_cert_validity_s, config.webhook_ca_validity_s) == (3600.0, 86400.0)
    assert config.webhook_trusted_users == "system:serviceaccount:kcost:kcost"
    assert config.webhook_access_review_ttl_s == 5.0
    assert config.analyzer_sizing_processes == 3
    assert (config.log_format, config.metrics_port) == ("json", 9100)
    assert "key-123" not in repr(config), "a key is never printed"
    runtime = RuntimeSettings.from_config(config)
    assert runtime.poll_interval.total_seconds() == 0.5
    assert runtime.heartbeat_every.total_seconds() == 1
    assert runtime.stale_after.total_seconds() == 5


def test_an_empty_variable_means_the_default() -> None:
    assert Config.from_env({"KCOST_TIMER_SECONDS": "", "KCOST_NAMESPACE": " "}).timer_interval_s == 10.0


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("KCOST_TIMER_SECONDS", "ten", "valid number"),
        ("KCOST_ANALYZER_STALE_SECONDS", "0", "greater than 0"),
        ("KCOST_PRIORITY", "1.5", "valid integer"),
        ("KCOST_PEERING_LIFETIME_SECONDS", "0", "greater than or equal to 1"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_is_expected(variable: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Config.from_env({variable: value})
    message = str(caught.value)
    assert f"{variable}={value!r}" in message
    assert expected in message
    assert Config.variables()[variable] in message, "the message says what the variable is for"
