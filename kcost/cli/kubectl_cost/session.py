"""The connection flags every subcommand shares, and running one command's API work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from kcost.cli.kubectl_cost import errors

if TYPE_CHECKING:
    from kcost.kube.client import KubeClient

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """``--kubeconfig`` and ``--context``, as given on the command line."""

    kubeconfig: str | None
    context: str | None


def run(ctx: Context, work: Callable[[KubeClient], Awaitable[T]]) -> T:
    """Run ``work(kube)`` with a client, turning API and connection errors into messages a user can act on."""
    import asyncio

    from kubernetes_asyncio.client.exceptions import ApiException

    from kcost.kube.client import connect

    async def main() -> T:
        async with connect(ctx.kubeconfig, ctx.context) as kube:
            return await work(kube)

    try:
        return asyncio.run(main())
    except ApiException as error:
        errors.fail_api(error)
        raise
    except Exception as error:
        errors.fail_connection(error)
        raise
