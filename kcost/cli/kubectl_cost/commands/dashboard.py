"""``kubectl cost dashboard``: the status API's dashboard in a browser, as the current kubeconfig user."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kcost.cli.kubectl_cost import errors

if TYPE_CHECKING:
    from kcost.cli.kubectl_cost.proxy import DashboardProxy
    from kcost.cli.kubectl_cost.session import Context

MISSING_API_MESSAGE = (
    "no status API to open: pass --api-url or set KCOST_API_URL (`kcost dev-cluster env` exports it); "
    "in a cluster: `kubectl port-forward -n kcost svc/kcost-api 8090:80`, then --api-url http://127.0.0.1:8090"
)
CERTIFICATE_USER_HINT = (
    "the status API accepts bearer tokens only, and the kubeconfig user of this context has none "
    "(client certificates cannot be forwarded): pass --token or set KCOST_API_TOKEN, "
    "e.g. KCOST_API_TOKEN=$(kubectl create token NAME -n NAMESPACE)"
)


@click.command("dashboard")
@click.option("--api-url", envvar="KCOST_API_URL", default=None, help="The status API [env: KCOST_API_URL].")
@click.option(
    "--token",
    envvar="KCOST_API_TOKEN",
    default=None,
    help="A bearer token [env: KCOST_API_TOKEN; default: the kubeconfig user's].",
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Local port (0: a free one).")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True, help="Open it in a browser.")
@click.pass_obj
def dashboard(ctx: Context, api_url: str | None, token: str | None, port: int, open_browser: bool) -> None:
    """Open the kcost dashboard as you: a proxy on 127.0.0.1 adds your bearer token to every request.

    \b
    Examples:
      kubectl cost dashboard
      kubectl cost dashboard --api-url http://127.0.0.1:8090 --no-open
    """
    import asyncio

    from kcost.cli.kubectl_cost.proxy import DashboardProxy

    if not api_url:
        errors.fail(MISSING_API_MESSAGE, errors.EXIT_UNREACHABLE)
    token = token or asyncio.run(_kubeconfig_token(ctx))
    if not token:
        errors.fail(CERTIFICATE_USER_HINT, errors.EXIT_FORBIDDEN)
    try:
        asyncio.run(_serve(DashboardProxy(api_url, token), port, open_browser))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        errors.fail(f"cannot listen on 127.0.0.1:{port}: {error}", errors.EXIT_RUN_FAILED)


async def _kubeconfig_token(ctx: Context) -> str | None:
    """The bearer token the kubeconfig gives the current user (static, token file or exec plugin)."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    try:
        await config.load_kube_config(
            config_file=ctx.kubeconfig, context=ctx.context, client_configuration=configuration
        )
    except Exception as error:
        errors.fail_connection(error)
        raise
    # The loader keeps "Bearer <token>" under BearerToken, refreshing it first for exec plugins.
    header = await configuration.get_api_key_with_prefix("BearerToken") or ""
    token = header.removeprefix("Bearer ").strip()
    return token or None


async def _serve(proxy: DashboardProxy, port: int, open_browser: bool) -> None:
    import asyncio
    import webbrowser

    from aiohttp import web

    runner = web.AppRunner(proxy.app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        bound_port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{bound_port}/{proxy.prefix}/"
        click.echo(f"kcost dashboard for {proxy.upstream_url}: {url}")
        click.echo("(the URL carries your credentials: do not share it; Ctrl-C stops the proxy)")
        if open_browser:
            webbrowser.open(url)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
