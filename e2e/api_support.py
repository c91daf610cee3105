"""The status API as the e2e tests run it: ``kcost api`` in a process of its own against a real API
server with kcost's admission webhook, and the calls its tests make as ServiceAccount users."""

from __future__ import annotations

import functools
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.webhook_support import WebhookCluster, poll, webhook_cluster
from kcost.devcluster.processes import free_port

USERS = "api-users"
RECS = "optimizationrecommendations"


@dataclass
class Api:
    hooked: WebhookCluster
    url: str
    database_url: str

    def call(self, method: str, path: str, token: str | None, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.url}{path}", method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, data=data, timeout=30) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def user(self, name: str) -> tuple[str, str]:
        """A ServiceAccount ``name`` in api-users: its user name and a bearer token."""
        self.hooked.kubectl("create", "serviceaccount", name, "-n", USERS)
        token = self.hooked.kubectl("create", "token", name, "-n", USERS, "--duration=1h").stdout.strip()
        assert token, f"no token for {name}"
        return f"system:serviceaccount:{USERS}:{name}", token

    def grant(self, namespace: str, user: str, verbs: list[str]) -> None:
        role = f"recs-{uuid.uuid4().hex[:6]}"
        rule = {"apiGroups": ["optimizer.kcost.dev"], "resources": [RECS], "verbs": verbs}
        document = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": role, "namespace": namespace},
            "rules": [rule],
        }
        assert self.hooked.apply(document).returncode == 0
        account = user.removeprefix("system:serviceaccount:")
        bound = self.hooked.kubectl(
            "create", "rolebinding", role, "-n", namespace, f"--role={role}", f"--serviceaccount={account}"
        )
        assert bound.returncode == 0, bound.stderr


def serve_api(work: Path) -> Iterator[Api]:
    """``kcost api`` over a fresh cluster and a SQLite history store in ``work``, once it is ready."""
    for hooked in webhook_cluster(work):
        hooked.kubectl("create", "namespace", USERS)
        database_url = f"sqlite+aiosqlite:///{work / 'history.db'}"
        port = free_port()
        env = {
            "KCOST_API_PORT": str(port),
            "KCOST_API_HOST": "127.0.0.1",
            "KCOST_DATABASE_URL": database_url,
            "KCOST_API_RATE_PER_SECOND": "10000",
            "KCOST_API_BURST": "10000",
        }
        hooked.spawn("api", "api", env=env)
        served = Api(hooked, f"http://127.0.0.1:{port}", database_url)
        poll("the status API ready", functools.partial(ready, served), timeout_s=120)
        yield served


def ready(api: Api) -> bool:
    """Whether the status API answers /readyz with 200."""
    try:
        return api.call("GET", "/readyz", None)[0] == 200
    except OSError:
        return False
