"""``kcost api``: the status API process (HTTP on KCOST_API_PORT)."""

from __future__ import annotations

import asyncio
import contextlib

import click


@click.command("api")
@click.option("-v", "--verbose", is_flag=True)
def api(verbose: bool) -> None:
    """Serve the status API: the CRDs and the cost history over HTTP, as the calling user.

    \b
    Callers send a Kubernetes bearer token (TokenReview) and see what RBAC lets them
    (SubjectAccessReview); writes are made as them through impersonation. The process's
    own identity needs tokenreviews/create, subjectaccessreviews/create and impersonate.
    Docs at http://HOST:KCOST_API_PORT/docs, the OpenAPI document at /openapi.json.
    """
    from kcost.config import Config, ConfigError
    from kcost.observability import logs
    from kcost.statusapi import app

    try:
        config = Config.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    logs.configure(config.log_format, verbose=verbose)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(app.serve(config))
