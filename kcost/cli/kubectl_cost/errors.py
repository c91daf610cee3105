"""Exit codes and the failures ``kubectl cost`` reports: one red line on stderr, then exit."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from kcost.config import KubeconfigError

EXIT_NOT_INSTALLED = 3
EXIT_FORBIDDEN = 4
EXIT_UNREACHABLE = 5
EXIT_NOT_FOUND = 6
EXIT_WRONG_STATE = 7
EXIT_RUN_FAILED = 1

# Connection failures of aiohttp, matched by name so that `--help` need not import it.
_UNREACHABLE = frozenset({"ClientConnectorError", "ServerDisconnectedError", "ClientConnectorCertificateError"})


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` as an error and exit with ``code``."""
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def fail_api(error: Any) -> None:
    """Exit with a message a user can act on for an ``ApiException``; return when there is none."""
    if error.status == 404:
        # Missing objects come back as None from get(); a 404 here means the kinds are not served.
        fail(
            "kcost is not installed in this cluster (no optimizer.kcost.dev resources): "
            "install it with `helm install kcost helm/kcost`",
            EXIT_NOT_INSTALLED,
        )
    if error.status == 403:
        fail(f"forbidden: {_forbidden_detail(error)}", EXIT_FORBIDDEN)
    if error.status == 401:
        fail("unauthorized: your kubeconfig credentials were refused", EXIT_FORBIDDEN)


def fail_connection(error: Exception) -> None:
    """Exit when ``error`` says no cluster is reachable or the kubeconfig is unusable; else return."""
    if isinstance(error, OSError | TimeoutError):
        fail(
            f"no cluster reachable ({type(error).__name__}: {error}); check --kubeconfig and --context",
            EXIT_UNREACHABLE,
        )
    if type(error).__name__ in _UNREACHABLE:
        fail(f"no cluster reachable: {error}; check --kubeconfig and --context", EXIT_UNREACHABLE)
    if isinstance(error, KubeconfigError):
        fail(str(error), EXIT_UNREACHABLE)


def _forbidden_detail(error: Any) -> str:
    try:
        return str(json.loads(error.body).get("message"))
    except (ValueError, TypeError, AttributeError):
        return str(error.reason)
