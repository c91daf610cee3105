"""helm/kcost/README.md and values.schema.json's descriptions are generated from values.yaml."""

from __future__ import annotations

import pytest

from kcost.cli import chart_docs


def test_readme_and_schema_are_up_to_date() -> None:
    stale = [path.name for path, text in chart_docs.render().items() if path.read_text() != text]
    assert not stale, f"{stale} are stale: run `make chart-docs`"


def test_every_value_is_documented_and_in_the_schema() -> None:
    values = chart_docs.documented_values((chart_docs.CHART / "values.yaml").read_text())
    assert {"replicas", "history.database", "webhook.enabled", "api.enabled"} <= {value.key for value in values}


def test_an_undocumented_value_is_refused() -> None:
    with pytest.raises(chart_docs.UndocumentedValueError, match="newValue has no `# --` comment"):
        chart_docs.documented_values("# -- documented\nknown: 1\nnewValue: 2\n")


def test_a_value_the_schema_lacks_is_refused() -> None:
    values = chart_docs.documented_values("# -- documented\nknown: 1\n")
    with pytest.raises(chart_docs.UndocumentedValueError, match="no property known"):
        chart_docs.described_schema({"type": "object", "properties": {}}, values)
