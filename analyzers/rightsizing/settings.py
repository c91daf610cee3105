"""The rightsizing analyzer's settings: common ones, and the strategy with its own typed settings.

``strategy`` picks the model ``strategySettings`` is parsed into (a discriminated union),
so a VPA setting given to the ``kcost`` strategy is refused by name, and the schema
(``RightsizingSettings.model_json_schema()``) lists every strategy's settings with
their bounds, for ``kcost analyzer rightsizing --help`` and for admission checks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, RootModel, Tag, model_validator

from kcost.analyzers.contract import AnalyzerSettings
from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings
from kcost.analyzers.rightsizing.krr_simple import KrrSimpleSettings
from kcost.analyzers.rightsizing.vpa import VpaSettings

StrategyName = Literal["kcost", "vpa", "krr-simple"]
DEFAULT_STRATEGY: StrategyName = "kcost"


class _Common(AnalyzerSettings):
    min_monthly_savings: float = Field(
        1.0, ge=0, alias="minMonthlySavings", description="smaller changes are not proposed (unless they fix an OOM)"
    )
    cpu_limits: bool = Field(False, alias="cpuLimits", description="also propose CPU limits")
    learned: bool = Field(
        True,
        description=(
            "anomalous hours screened out, the calibrated confidence and the workload class in the evidence; "
            "false: the rules alone (every hour kept, confidence = the share of the horizon covered, no class)"
        ),
    )


class KcostRightsizing(_Common):
    """kcost's own strategy (the default): recency-weighted percentiles, trend- and OOM-aware limits."""

    strategy: Literal["kcost"] = Field("kcost", description="kcost, vpa or krr-simple")
    strategy_settings: AdaptiveSettings = Field(
        default_factory=AdaptiveSettings, alias="strategySettings", description="the kcost strategy's settings"
    )
    class_aware: bool = Field(
        False,
        alias="classAware",
        description=(
            "each container's workload class (shown in the evidence either way) chooses its settings; "
            "strategySettings given here still win"
        ),
    )

    @model_validator(mode="after")
    def _classes_need_the_model(self) -> KcostRightsizing:
        if self.class_aware and not self.learned:
            raise ValueError("classAware: true needs learned: true (the class is the learned model's), got false")
        return self


class VpaRightsizing(_Common):
    """The Vertical Pod Autoscaler's recommender, re-implemented from its published constants."""

    strategy: Literal["vpa"] = Field(description="kcost, vpa or krr-simple")
    strategy_settings: VpaSettings = Field(
        default_factory=VpaSettings, alias="strategySettings", description="the VPA recommender's flags"
    )


class KrrSimpleRightsizing(_Common):
    """KRR's simple strategy, re-implemented from its published constants."""

    strategy: Literal["krr-simple"] = Field(description="kcost, vpa or krr-simple")
    strategy_settings: KrrSimpleSettings = Field(
        default_factory=KrrSimpleSettings, alias="strategySettings", description="KRR simple's settings"
    )


def _strategy_of(raw: Any) -> str:
    # No strategy given means the default one, whose model then reads the rest.
    if isinstance(raw, dict):
        return str(raw.get("strategy", DEFAULT_STRATEGY))
    return str(getattr(raw, "strategy", DEFAULT_STRATEGY))


StrategyChoice = Annotated[
    Annotated[KcostRightsizing, Tag("kcost")]
    | Annotated[VpaRightsizing, Tag("vpa")]
    | Annotated[KrrSimpleRightsizing, Tag("krr-simple")],
    Discriminator(
        _strategy_of,
        custom_error_type="invalid_strategy",
        custom_error_message="strategy must be kcost, vpa or krr-simple",
    ),
]


class RightsizingSettings(RootModel[StrategyChoice]):
    """``spec.analyzers[rightsizing].settings``: one model per strategy, chosen by ``strategy``."""
