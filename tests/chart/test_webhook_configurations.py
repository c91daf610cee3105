"""The chart's webhook configurations are what `kcost webhook` registers, so its updates change only the caBundle."""

from __future__ import annotations

from typing import Any

import pytest

from kcost.webhooks import registration
from tests.chart.render import NAMESPACE, of_kind, render

URL = f"https://kcost-webhook.{NAMESPACE}.svc"


def _without_ca_bundle(configuration: dict[str, Any]) -> dict[str, Any]:
    webhooks = [
        {**hook, "clientConfig": {key: value for key, value in hook["clientConfig"].items() if key != "caBundle"}}
        for hook in configuration["webhooks"]
    ]
    return {**configuration, "webhooks": webhooks}


@pytest.mark.parametrize("kind", ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"])
def test_the_chart_ships_what_the_webhook_registers(kind: str) -> None:
    documents = render()
    (shipped,) = of_kind(documents, kind)
    (deployment,) = of_kind(documents, "Deployment")
    webhook = next(c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "webhook")
    env = {variable["name"]: variable.get("value") for variable in webhook["env"]}
    trusted = env["KCOST_WEBHOOK_TRUSTED_USERS"].split(",")
    assert env["KCOST_WEBHOOK_URL"] == URL
    assert trusted == [f"system:serviceaccount:{NAMESPACE}:kcost"], "kcost's own ServiceAccount is never sent to it"

    validating, mutating = registration.configurations(env["KCOST_WEBHOOK_URL"], b"", trusted)
    registered = _without_ca_bundle(validating if kind.startswith("Validating") else mutating)
    assert "caBundle" not in str(shipped), "the webhook owns the caBundle; helm must not reset it on upgrade"
    assert shipped["webhooks"] == registered["webhooks"]
    assert shipped["metadata"]["name"] == registered["metadata"]["name"]
    assert registered["metadata"]["labels"].items() <= shipped["metadata"]["labels"].items()


def test_without_the_webhook_there_is_no_configuration_and_no_service() -> None:
    documents = render("webhook.enabled=false")
    assert not of_kind(documents, "ValidatingWebhookConfiguration")
    assert not of_kind(documents, "MutatingWebhookConfiguration")
    assert all(not service["metadata"]["name"].endswith("-webhook") for service in of_kind(documents, "Service"))
