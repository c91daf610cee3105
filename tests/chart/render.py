"""``helm template`` of helm/kcost with the helm built from its Go module (`make binaries`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcost.devcluster import binaries

CHART = Path(__file__).resolve().parents[2] / "helm" / "kcost"
NAMESPACE = "kcost-system"


def helm() -> str:
    """The built helm; the test is skipped, saying how to build it, when there is none."""
    found = binaries.helm()
    if not Path(found).is_file() and shutil.which(found) is None:
        pytest.skip("helm is not built: run `make binaries`")
    return found


def render(*values: str, release: str = "kcost", namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """The chart's documents with ``--set`` ``values``; fails with helm's message when it refuses."""
    sets = [argument for value in values for argument in ("--set", value)]
    command = [helm(), "template", release, str(CHART), "--namespace", namespace, *sets]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def render_error(*values: str) -> str:
    """helm's message when it refuses to render with ``values``."""
    sets = [argument for value in values for argument in ("--set", value)]
    command = [helm(), "template", "kcost", str(CHART), "--namespace", NAMESPACE, *sets]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode != 0, f"helm rendered {values} without complaint"
    return result.stderr


def of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == kind]
