"""The `-o` formats: a registry of formatters; tables align, json/yaml print a Kubernetes List."""

from __future__ import annotations

import json

import pytest
import yaml

from kcost.cli.kubectl_cost import options, outputs

ITEMS = [{"name": "web", "savings": 40.5}, {"name": "a-much-longer-name", "savings": 7.0}]
TABLE = outputs.Table(
    columns=[outputs.Column("NAME", lambda i: i["name"])],
    wide=[outputs.Column("SAVINGS", lambda i: f"{i['savings']:.2f}", numeric=True)],
)


def test_every_output_flag_value_is_a_registered_formatter() -> None:
    assert set(outputs.FORMATTERS) == {"table", "wide", "json", "yaml"}
    command = options.output_option(lambda output: None)
    choices = next(p for p in command.__click_params__ if p.name == "output").type.choices  # type: ignore[attr-defined]
    assert list(choices) == list(outputs.FORMATTERS)


def test_wide_adds_columns_and_aligns_them(capsys: pytest.CaptureFixture[str]) -> None:
    outputs.emit(ITEMS, "table", TABLE)
    assert "SAVINGS" not in capsys.readouterr().out
    outputs.emit(ITEMS, "wide", TABLE)
    header, *rows = capsys.readouterr().out.splitlines()
    column = header.index("SAVINGS")
    assert [row[column:] for row in rows] == ["40.50", "7.00"]


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_machine_formats_print_the_objects_as_a_list(output: str, capsys: pytest.CaptureFixture[str]) -> None:
    outputs.emit(ITEMS, output, TABLE)
    text = capsys.readouterr().out
    document = json.loads(text) if output == "json" else yaml.safe_load(text)
    assert document == {"apiVersion": "v1", "kind": "List", "items": ITEMS}
