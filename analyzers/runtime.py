"""Run one analyzer as its own process: find work, claim it, execute, repeat.

The loop polls the Analysis list (a handful of cluster-scoped objects) every
``poll_interval``; an Analysis is worked on by at most one instance at a time, and
an instance that dies mid-run is replaced once its heartbeat is older than
``stale_after``.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kcost.analyzers import contract
from kcost.api.v1alpha1.analysis import Analysis
from kcost.config import Config
from kcost.kube.client import KubeClient
from kcost.observability import logs, metrics, tracing

log = logging.getLogger("kcost.analyzers.runtime")


@dataclass(frozen=True)
class RuntimeSettings:
    poll_interval: datetime.timedelta
    heartbeat_every: datetime.timedelta
    stale_after: datetime.timedelta

    @classmethod
    def from_config(cls, config: Config) -> RuntimeSettings:
        """From ``KCOST_ANALYZER_POLL_SECONDS``, ``…_HEARTBEAT_SECONDS`` and ``…_STALE_SECONDS`` (see ``Config``)."""
        return cls(
            poll_interval=datetime.timedelta(seconds=config.analyzer_poll_s),
            heartbeat_every=datetime.timedelta(seconds=config.analyzer_heartbeat_s),
            stale_after=datetime.timedelta(seconds=config.analyzer_stale_s),
        )


def instance_id() -> str:
    """Who claims: the Pod's name (or host) plus a random part, unique per process."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}-{uuid.uuid4().hex[:6]}"


async def serve_once(
    kube: KubeClient, analyzer: contract.Analyzer[Any], instance: str, settings: RuntimeSettings
) -> int:
    """One pass over the Analyses; returns how many runs this instance executed."""
    executed = 0
    now = datetime.datetime.now(datetime.UTC)
    for body in await kube.list_raw(Analysis):
        try:
            analysis = Analysis.model_validate(body)
        except ValueError:
            # The operator reports invalid objects in their status; nothing to analyze here.
            log.debug("skipping invalid Analysis %s", body.get("metadata", {}).get("name"))
            continue
        if not contract.needs_work(analysis, analyzer.name, now, settings.stale_after):
            continue
        claimed = await contract.claim(kube, analysis, analyzer.name, instance)
        if claimed is None:
            log.info("Analysis %s: another instance claimed %s first", analysis.name, analyzer.name)
            continue
        with (
            logs.about(kind="Analysis", name=analysis.name, run_id=claimed.status.run_id),
            tracing.in_run(claimed.status.trace_id),
            tracing.span(
                f"analyzer {analyzer.name}", **{"kcost.analyzer": analyzer.name, "kcost.analysis": analysis.name}
            ),
        ):
            log.info(
                "Analysis %s run %s: %s claimed by %s", analysis.name, claimed.status.run_id, analyzer.name, instance
            )
            started = time.perf_counter()
            phase = await contract.execute(kube, analyzer, claimed, instance, heartbeat_every=settings.heartbeat_every)
            metrics.ANALYSIS_DURATION.labels(analyzer.name).observe(time.perf_counter() - started)
            log.info("Analysis %s run %s: %s finished: %s", analysis.name, claimed.status.run_id, analyzer.name, phase)
        executed += 1
    return executed


async def serve(kube: KubeClient, analyzer: contract.Analyzer[Any], settings: RuntimeSettings | None = None) -> None:
    """Work forever (until cancelled)."""
    settings = settings or RuntimeSettings.from_config(Config.from_env())
    instance = instance_id()
    log.info("analyzer %s started as %s", analyzer.name, instance)
    try:
        while True:
            try:
                await serve_once(kube, analyzer, instance, settings)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("analyzer %s: pass failed; retrying", analyzer.name, exc_info=True)
            await asyncio.sleep(settings.poll_interval.total_seconds())
    finally:
        analyzer.close()
