"""``kcost webhook``: the admission webhook process (validation, approvals, approvedBy stamping).

This module and ``kcost.cli.run`` are the CLI modules allowed to start handler code; the
webhook gets each analyzer's settings model from the analyzer registry here, so the
webhook package itself never imports the analyzers.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import signal
import urllib.parse
from pathlib import Path
from typing import Any

import click


@click.command("webhook")
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Create or update the Validating/MutatingWebhookConfiguration (caBundle included) pointing at this process.",
)
@click.option(
    "--unregister-on-exit", is_flag=True, help="Remove the configurations on SIGTERM/SIGINT (a local run that ends)."
)
@click.option("-v", "--verbose", is_flag=True)
def webhook(register: bool, unregister_on_exit: bool, verbose: bool) -> None:
    """Serve kcost's admission webhook over TLS on KCOST_WEBHOOK_PORT (default 9443).

    \b
    The CA and serving certificate are made with `cryptography` in KCOST_WEBHOOK_CERT_DIR and
    renewed before they expire; the API server reaches the webhook at KCOST_WEBHOOK_URL
    (default https://127.0.0.1:PORT, which suits the dev cluster).
    """
    from kcost.analyzers import registry
    from kcost.config import Config, ConfigError
    from kcost.kube import client
    from kcost.observability import logs
    from kcost.webhooks import certs, registration, server

    try:
        config = Config.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    logs.configure(config.log_format, verbose=verbose)
    url = config.webhook_url or f"https://127.0.0.1:{config.webhook_port}"
    host = urllib.parse.urlsplit(url).hostname or "127.0.0.1"
    serving = datetime.timedelta(seconds=config.webhook_cert_validity_s)
    settings = server.Settings(
        port=config.webhook_port,
        url=url,
        cert_dir=Path(config.webhook_cert_dir).absolute(),
        hosts=tuple(dict.fromkeys((host, "127.0.0.1", "localhost"))),
        lifetimes=certs.Lifetimes(ca=datetime.timedelta(seconds=config.webhook_ca_validity_s), serving=serving),
        trusted_users=[user.strip() for user in config.webhook_trusted_users.split(",") if user.strip()],
        register=register,
        # Often enough to renew within the last third of a certificate's life, however short.
        rotation_check_s=min(60.0, serving.total_seconds() / 10),
        access_review_ttl_s=config.webhook_access_review_ttl_s,
    )

    def load_settings_models() -> dict[str, Any]:
        models = {}
        for name in registry.available():
            try:
                models[name] = registry.settings_model(name)
            except (registry.UnknownAnalyzerError, ImportError, AttributeError) as error:
                logging.getLogger("kcost.webhooks").warning("analyzer %s: settings not checked: %s", name, error)
        return models

    from kcost.observability import metrics

    async def main() -> None:
        async with client.connect() as kube, metrics.serve(config.metrics_port):
            # Loaded before serving: importing an analyzer (numpy, scikit-learn…) takes longer than the
            # API server waits. After connecting, so that an unusable kubeconfig is said at once.
            models = await asyncio.to_thread(load_settings_models)
            task = asyncio.current_task()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, lambda: task.cancel() if task else None)
            try:
                await server.serve(kube, settings, models.__getitem__)
            except asyncio.CancelledError:
                if unregister_on_exit:
                    await registration.unregister(kube)

    asyncio.run(main())
