"""What a plugin is: a name, a settings model, ``run(context)`` and what it returns."""

from __future__ import annotations

import abc
import datetime
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from kcost.api.v1alpha1.analysis import Analysis
from kcost.api.v1alpha1.policy import Hysteresis
from kcost.api.v1alpha1.recommendation import OptimizationRecommendationSpec, RecommendationType, recommendation_name
from kcost.kube.client import KubeClient


def field_manager(analyzer: str) -> str:
    """The field manager of every write an analyzer makes: its own, so it owns only its own fields."""
    return f"kcost-analyzer-{analyzer}"


class AnalyzerSettings(BaseModel):
    """Base of every analyzer's settings; ``spec.analyzers[].settings`` is parsed into it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


SettingsT = TypeVar("SettingsT", bound=BaseModel)


@dataclass(frozen=True)
class RunContext(Generic[SettingsT]):
    """What one run of one analyzer gets: the frozen window, its settings, its scope."""

    analysis: Analysis
    run_id: str
    window_start: datetime.datetime
    window_end: datetime.datetime
    resolution: datetime.timedelta
    settings: SettingsT
    namespaces: list[str]
    kube: KubeClient


@dataclass(frozen=True, init=False)
class Proposal:
    """One recommendation an analyzer wants to exist.

    A run keeps thousands until it writes them, so the spec is held as its JSON (~1.4 kB) rather
    than as models (~11 kB each with their evidence): at 10,000 workloads that is 70 MB of the
    analyzer's peak. ``spec`` reads it back, the same model to the bit, and a new copy each
    time: to change a proposal, make a new one from a changed spec. Its object's ``name`` is
    kept beside it, so that a run plans its writes without reading a spec back.
    """

    namespace: str
    name: str
    # The band inside which it does not replace an open proposal of the same workload (None: any change does).
    hysteresis: Hysteresis | None
    spec_json: bytes

    def __init__(
        self, namespace: str, spec: OptimizationRecommendationSpec, hysteresis: Hysteresis | None = None
    ) -> None:
        object.__setattr__(self, "namespace", namespace)
        object.__setattr__(
            self, "name", recommendation_name(spec.target_ref.kind, spec.target_ref.name, spec.type.value)
        )
        object.__setattr__(self, "hysteresis", hysteresis)
        object.__setattr__(self, "spec_json", spec.model_dump_json(by_alias=True))

    @property
    def spec(self) -> OptimizationRecommendationSpec:
        return OptimizationRecommendationSpec.model_validate_json(self.spec_json)


@dataclass
class AnalyzerResult:
    proposals: list[Proposal] = field(default_factory=list)
    workloads: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    scope_monthly_cost: float | None = None
    # Every HTTP request the run made to Prometheus, by API endpoint (query, query_range, series).
    prometheus_requests: dict[str, int] | None = None
    # The exact window its queries read: the frozen one aligned to the query step (start, end).
    window: tuple[datetime.datetime, datetime.datetime] | None = None
    # namespace/Kind/name of the workloads whose usage is anomalous now (``kcost.ml.anomaly``).
    anomalous_workloads: list[str] = field(default_factory=list)


class AnalyzerError(Exception):
    """A failure to show the user as is (say what is wrong and what to do)."""


class Analyzer(abc.ABC, Generic[SettingsT]):
    """A plugin. Subclasses set ``name``, ``settings_model`` and ``types`` and implement ``run``."""

    name: ClassVar[str]
    # Usually an ``AnalyzerSettings``; a ``RootModel`` of a tagged union where settings depend on a choice.
    settings_model: ClassVar[type[BaseModel]]
    types: ClassVar[tuple[RecommendationType, ...]] = ()

    @abc.abstractmethod
    async def run(self, context: RunContext[SettingsT]) -> AnalyzerResult:
        """Analyze the scope over the window; raise ``AnalyzerError`` for a failure a user can fix."""

    def close(self) -> None:
        """Release what the analyzer holds between runs (worker processes, say); the process is ending."""
