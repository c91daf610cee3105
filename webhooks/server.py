"""``kcost webhook``: the admission webhook as its own process (aiohttp over TLS, on a fixed port).

Its own process rather than kopf's admission server inside the operator: the operator's
event loop never waits on admission traffic, the webhook can be scaled and restarted (or
killed, in tests) on its own, and a webhook that is down blocks only users' writes, never
the operator's or the analyzers' (see ``registration.match_conditions``).

Every ``rotation_check_s`` the certificates are checked (``certs.ensure``): a new CA is
published in the webhook configurations before any certificate it signs is served, and a
new serving certificate is loaded into the running TLS context, so connections made from
then on use it and no request fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import json
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from kcost.kube.client import KubeClient
from kcost.webhooks import certs, registration, review
from kcost.webhooks.cluster import KubeView
from kcost.webhooks.validation import Context, SettingsModels

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Settings:
    """How the webhook serves and registers itself."""

    port: int
    url: str
    cert_dir: Path
    hosts: tuple[str, ...]
    lifetimes: certs.Lifetimes
    trusted_users: list[str]
    register: bool = True
    rotation_check_s: float = 60.0
    access_review_ttl_s: float = 0.0


def app(context: Context, ready: Callable[[], bool] = lambda: True) -> web.Application:
    """The routes: ``/validate`` and ``/mutate`` (AdmissionReviews), ``/healthz``, and ``/readyz`` (``ready()``).

    Other endpoints (``/metrics``) are added to the returned application by their owner.
    """

    async def admit(request: web.Request, *, mutating: bool) -> web.Response:
        try:
            body = await request.json()
            answer = await review.answer(body, mutating=mutating, context=context)
        except (json.JSONDecodeError, UnicodeDecodeError, review.InvalidReviewError) as error:
            return web.Response(status=400, text=f"not an AdmissionReview: {error}")
        return web.json_response(answer)

    async def validate(request: web.Request) -> web.Response:
        return await admit(request, mutating=False)

    async def mutate(request: web.Request) -> web.Response:
        return await admit(request, mutating=True)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ok")
        return web.Response(status=503, text="the policies' and namespaces' first listing is not in yet")

    application = web.Application()
    application.router.add_post(registration.VALIDATE_PATH, validate)
    application.router.add_post(registration.MUTATE_PATH, mutate)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    return application


@dataclasses.dataclass
class _Rotation:
    """What is published and what is served, so that a step that failed half-way is finished by the next."""

    kube: KubeClient
    settings: Settings
    context: ssl.SSLContext
    published_bundle: bytes = b""
    served_certificate: bytes = b""

    async def step(self) -> None:
        """Renew what is due, publish a changed trust bundle, then serve a changed certificate."""
        settings = self.settings
        current = await asyncio.to_thread(certs.ensure, settings.cert_dir, settings.hosts, settings.lifetimes)
        if settings.register and current.ca_bundle != self.published_bundle:
            await registration.register(self.kube, settings.url, current.ca_bundle, settings.trusted_users)
            self.published_bundle = current.ca_bundle
        certificate = current.cert_path.read_bytes()
        if certificate != self.served_certificate:
            self.context.load_cert_chain(current.cert_path, current.key_path)
            if self.served_certificate:
                log.info("serving a renewed certificate (CA renewed: %s)", current.ca_renewed)
            self.served_certificate = certificate


async def serve(kube: KubeClient, settings: Settings, settings_models: SettingsModels) -> None:
    """Serve until cancelled; certificates are made (or renewed) and registered first."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    first = await asyncio.to_thread(certs.ensure, settings.cert_dir, settings.hosts, settings.lifetimes)
    context.load_cert_chain(first.cert_path, first.key_path)
    rotation = _Rotation(kube, settings, context, served_certificate=first.cert_path.read_bytes())
    view = KubeView(kube, access_review_ttl_s=settings.access_review_ttl_s)
    mirroring = asyncio.create_task(view.mirror(), name="webhook mirrors")
    runner = web.AppRunner(app(Context(view, settings_models), lambda: view.synced), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host="0.0.0.0", port=settings.port, ssl_context=context)  # noqa: S104 - the API server calls in
        await site.start()
        # Registered once it answers from synced mirrors: the API server never calls a webhook that is not ready.
        while not view.synced:
            try:
                await view.wait_synced()
            except TimeoutError:
                log.info("waiting for the first listing of policies and namespaces before registering")
        await rotation.step()
        log.info("admission webhook serving on %s (port %d)", settings.url, settings.port)
        while True:
            await asyncio.sleep(settings.rotation_check_s)
            try:
                await rotation.step()
            except Exception:
                log.exception("certificate rotation step failed at %s", datetime.datetime.now(datetime.UTC))
    finally:
        mirroring.cancel()
        with contextlib.suppress(Exception):
            await runner.cleanup()
