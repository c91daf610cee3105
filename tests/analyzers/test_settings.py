"""Analyzer settings are typed: the registry exposes each model, the sample is valid, help lists them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError

from kcost.analyzers import contract, registry
from kcost.analyzers.rightsizing.adaptive import AdaptiveSettings
from kcost.analyzers.rightsizing.krr_simple import KrrSimpleSettings
from kcost.analyzers.rightsizing.settings import RightsizingSettings
from kcost.analyzers.rightsizing.vpa import VpaSettings
from kcost.api.v1alpha1.analysis import Analysis
from kcost.cli.run import analyzer as analyzer_command

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "samples" / "optimizer_v1alpha1_analysis.yaml"


def test_the_sample_analysis_has_valid_settings_for_every_analyzer() -> None:
    analysis = Analysis.model_validate(yaml.safe_load(SAMPLE.read_text()))
    assert {a.name for a in analysis.spec.analyzers} >= {"rightsizing"}
    for spec in analysis.spec.analyzers:
        registry.settings_model(spec.name).model_validate(spec.settings)  # raises on an unknown or bad setting


def test_the_registry_gives_each_analyzers_settings_model() -> None:
    assert registry.settings_model("rightsizing") is RightsizingSettings
    assert "maxCpuCores" in registry.settings_model("idle").model_json_schema(by_alias=True)["properties"]
    with pytest.raises(registry.UnknownAnalyzerError, match="no analyzer named 'gpu'"):
        registry.settings_model("gpu")


def test_the_strategy_picks_the_model_of_its_settings() -> None:
    default = RightsizingSettings.model_validate({}).root
    assert default.strategy == "kcost"
    assert isinstance(default.strategy_settings, AdaptiveSettings)
    vpa = RightsizingSettings.model_validate({"strategy": "vpa", "strategySettings": {"halfLifeHours": 12}}).root
    assert isinstance(vpa.strategy_settings, VpaSettings)
    assert vpa.strategy_settings.half_life_hours == 12
    krr = RightsizingSettings.model_validate({"strategy": "krr-simple"}).root
    assert isinstance(krr.strategy_settings, KrrSimpleSettings)
    with pytest.raises(ValidationError, match="strategy must be kcost, vpa or krr-simple"):
        RightsizingSettings.model_validate({"strategy": "magic"})
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        RightsizingSettings.model_validate({"strategy": "vpa", "strategySettings": {"targetPercentile": 90}})


def _analysis(settings: dict[str, object]) -> Analysis:
    return Analysis.model_validate(
        {
            "metadata": {"name": "a"},
            "spec": {"profileRef": {"name": "p"}, "analyzers": [{"name": "rightsizing", "settings": settings}]},
        }
    )


def test_a_setting_of_another_strategy_is_refused_by_name() -> None:
    analyzer = registry.load("rightsizing")
    with pytest.raises(contract.AnalyzerError) as refused:
        contract.parse_settings(analyzer, _analysis({"strategySettings": {"halfLifeHours": 12}}))
    assert "spec.analyzers[rightsizing].settings.strategySettings.halfLifeHours: Extra inputs are not permitted" in str(
        refused.value
    )
    with pytest.raises(contract.AnalyzerError) as old:
        contract.parse_settings(analyzer, _analysis({"cpuPercentile": 95}))
    assert "spec.analyzers[rightsizing].settings.cpuPercentile: Extra inputs are not permitted" in str(old.value)


def test_help_lists_every_setting_with_type_bounds_default_and_description() -> None:
    result = CliRunner().invoke(analyzer_command, ["rightsizing", "--help"])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Settings of rightsizing" in text
    assert "minMonthlySavings  number, ≥ 0, default 1.0 — smaller changes are not proposed" in text
    for strategy in ("with strategy: kcost", "with strategy: vpa", "with strategy: krr-simple"):
        assert strategy in text
    assert "targetPercentile  number, > 0, ≤ 1, default 0.9 — target-cpu/memory-percentile." in text
    idle = CliRunner().invoke(analyzer_command, ["idle", "--help"]).output
    assert "minDays  number, > 0, default 3 — history needed before calling anything idle" in idle
