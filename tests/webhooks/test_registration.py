"""Where the API server is told to find the webhook: a Service reference in a cluster, a URL elsewhere."""

from __future__ import annotations

import base64

import pytest

from kcost.webhooks import registration


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("https://kcost-webhook.kcost-system.svc/validate", {"name": "kcost-webhook", "namespace": "kcost-system"}),
        ("https://kcost-webhook.kcost-system.svc:8443/mutate", {"name": "kcost-webhook", "namespace": "kcost-system"}),
    ],
)
def test_a_url_naming_a_service_is_registered_as_a_service_reference(url: str, service: dict[str, str]) -> None:
    config = registration.client_config(url, b"CA")
    assert "url" not in config, "most API servers cannot resolve cluster DNS names"
    port = 8443 if ":8443" in url else 443
    assert config["service"] == {**service, "path": "/" + url.rsplit("/", 1)[1], "port": port}
    assert base64.b64decode(config["caBundle"]) == b"CA"


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1:9443/validate", "https://webhook.example.com/validate", "https://a.b.svc.example.com/v"],
)
def test_any_other_url_is_registered_as_it_is(url: str) -> None:
    config = registration.client_config(url, b"CA")
    assert config["url"] == url
    assert "service" not in config
