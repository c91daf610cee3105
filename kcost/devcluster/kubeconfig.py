"""Kubeconfig files for the dev cluster: certificate users and service-account tokens."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from kcost.devcluster.pki import KeyPair


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write(
    path: Path,
    *,
    server_url: str,
    ca: KeyPair,
    user_name: str,
    client: KeyPair | None = None,
    token: str | None = None,
) -> Path:
    """Write a single-context kubeconfig; the user authenticates by certificate or token."""
    if (client is None) == (token is None):
        raise ValueError("a kubeconfig user needs exactly one of a client certificate or a token")
    user: dict[str, str] = {"token": token} if token is not None else {}
    if client is not None:
        user = {
            "client-certificate-data": _b64(client.cert_pem()),
            "client-key-data": _b64(client.key_pem()),
        }
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kcost-dev", "cluster": {"server": server_url, "certificate-authority-data": _b64(ca.cert_pem())}}
        ],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": f"{user_name}@kcost-dev", "context": {"cluster": "kcost-dev", "user": user_name}}],
        "current-context": f"{user_name}@kcost-dev",
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path
