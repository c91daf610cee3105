"""The alert rules and the dashboard: valid for promtool, every alert unit-tested, every panel's PromQL parsing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
FILES = REPO_ROOT / "helm" / "kcost" / "files"
RULES = FILES / "kcost.rules.yaml"
RULE_TESTS = FILES / "kcost.rules.test.yaml"
DASHBOARD = FILES / "kcost-dashboard.json"
RUNBOOKS = REPO_ROOT / "docs" / "runbooks.md"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool not found: `make system-deps` installs Debian's prometheus package")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False, timeout=120)


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_rules_file_is_valid() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_passes_its_unit_tests() -> None:
    result = _promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    silent: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - firing == set(), "alerts without a firing test"
    assert names - silent == set(), "alerts without a not-firing test"


def test_every_alert_says_what_and_has_a_runbook_section() -> None:
    headings = {line[3:].strip().lower() for line in RUNBOOKS.read_text().splitlines() if line.startswith("## ")}
    for rule in _alerts():
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert "$value" in annotations["description"] or "$labels" in annotations["description"], rule["alert"]
        assert annotations["runbook_url"] == f"docs/runbooks.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in headings, f"docs/runbooks.md has no section for {rule['alert']}"


def test_the_chart_ships_the_same_rules_and_the_dashboard() -> None:
    templates = REPO_ROOT / "helm" / "kcost" / "templates"
    assert '.Files.Get "files/kcost.rules.yaml"' in (templates / "prometheusrule.yaml").read_text()
    dashboard = (templates / "grafana-dashboard.yaml").read_text()
    assert '.Files.Get "files/kcost-dashboard.json"' in dashboard
    values = yaml.safe_load((REPO_ROOT / "helm" / "kcost" / "values.yaml").read_text())
    assert values["monitoring"]["grafanaDashboard"]["label"] == "grafana_dashboard", "the sidecar's default label"


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel of the dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def test_every_panel_query_parses(tmp_path: Path) -> None:
    # promtool parses PromQL when it checks rules: each query becomes a recording rule.
    rules = [
        {"record": f"kcost:dashboard_panel_{index}", "expr": expr} for index, (_, expr) in enumerate(panel_queries())
    ]
    path = tmp_path / "panels.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = _promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"SUCCESS: {len(rules)} rules found", result.stdout), result.stdout
