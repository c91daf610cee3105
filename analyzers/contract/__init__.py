"""The analyzer contract: how an analyzer process takes part in an Analysis run.

An analyzer is a plugin (``Analyzer``): a name, a pydantic settings model, and
``run(context) -> AnalyzerResult``. Each runs in its own process (``kcost analyzer
NAME``), and talks to the operator only through the Analysis object:

1. **Find work.** The operator moves an Analysis to ``Running`` and freezes
   ``status.runId``, ``windowStart`` and ``windowEnd``. An enabled analyzer has work
   when ``status.analyzers.<name>`` is missing or belongs to an older run, or when
   its claimant stopped sending heartbeats (``stale_after``).
2. **Claim it idempotently.** The analyzer server-side-applies its own section,
   ``status.analyzers.<name> = {phase: Running, runId, claimedBy, heartbeatTime}``,
   carrying the ``resourceVersion`` it read: of two instances racing, one wins and
   the other gets a conflict and backs off. While it works it refreshes
   ``heartbeatTime``.
3. **Upsert recommendations.** Each proposal becomes one OptimizationRecommendation
   named ``recommendation_name(kind, workload, type)`` in the workload's namespace,
   owned by the Analysis, labelled with the analysis and analyzer, its spec carrying
   the run (``analysisRef.runId``). A re-run updates the same object, and only when
   its content changed; an object somebody acted on (approved, applying, applied,
   rejected…) is left alone. Retrying after a crash writes the same names again:
   never a duplicate. The analyzer's own open proposals it no longer makes are
   reported as ``withdrawn``; the Analysis marks them stale and the operator's
   recommendation controller, the one writer of their phase, retires them.
4. **Report.** ``Succeeded`` with counts and savings, or ``Failed`` with an error a
   person can act on, plus the ``<Name>Complete`` condition. "Not enough data" for a
   workload is not a failure: it is counted in ``skipped`` by reason.

Every write is a server-side apply with the field manager ``kcost-analyzer-<name>``,
touching only that analyzer's status section and condition on the Analysis, and only
the metadata and spec of a recommendation (never its status), so analyzers and the
operator never overwrite each other. An analyzer whose run was replaced (new
``runId``) or ended (timeout) while it worked discards its results.

By concern: ``plugin`` (what a plugin implements and returns), ``claims`` (finding,
claiming and heart-beating a run), ``recommendations`` (upserting proposals),
``execution`` (one run, from its settings to its report), ``hysteresis`` (the band inside
which a change is not proposed, nor replaces an open proposal). Plugins import from here.
"""

from __future__ import annotations

from kcost.analyzers.contract import hysteresis
from kcost.analyzers.contract.claims import claim, heartbeat, needs_work, resolve_namespaces, still_current
from kcost.analyzers.contract.execution import execute, parse_settings
from kcost.analyzers.contract.plugin import (
    Analyzer,
    AnalyzerError,
    AnalyzerResult,
    AnalyzerSettings,
    Proposal,
    RunContext,
    SettingsT,
    field_manager,
)
from kcost.analyzers.contract.recommendations import WritePlan, content, plan, upsert_all
from kcost.api.labels import LABEL_ANALYSIS, LABEL_ANALYZER, LABEL_TYPE

__all__ = [
    "LABEL_ANALYSIS",
    "LABEL_ANALYZER",
    "LABEL_TYPE",
    "Analyzer",
    "AnalyzerError",
    "AnalyzerResult",
    "AnalyzerSettings",
    "Proposal",
    "RunContext",
    "SettingsT",
    "WritePlan",
    "claim",
    "content",
    "execute",
    "field_manager",
    "heartbeat",
    "hysteresis",
    "needs_work",
    "parse_settings",
    "plan",
    "resolve_namespaces",
    "still_current",
    "upsert_all",
]
