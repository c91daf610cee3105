"""The ``kcost`` group: each long-running process imports only what it runs."""

from __future__ import annotations

import json
import subprocess
import sys

from kcost.cli.main import SUBCOMMANDS, cli

# Imported by what `kcost operator` runs, minus the group's other commands (bench, ml): checked in a fresh
# interpreter, since this test process has imported everything the other tests use.
OPERATOR_START = """
import json, sys
from kcost.cli.main import cli
ctx = cli.make_context("kcost", ["operator"])
command = cli.get_command(ctx, "operator")
import kcost.operator.main  # what the command imports as it starts the operator
print(json.dumps(sorted(name for name in ("sklearn", "pandas", "scipy") if name in sys.modules)))
"""


def test_starting_the_operator_imports_no_machine_learning_libraries() -> None:
    ran = subprocess.run([sys.executable, "-c", OPERATOR_START], capture_output=True, text=True, check=True)
    assert json.loads(ran.stdout.splitlines()[-1]) == []


# What `kcost analyzer rightsizing` imports as it starts, then what a run scores with (the shipped models'
# arrays, the default anomaly screening): scikit-learn, scipy, pandas and joblib were 113 MiB of its RSS,
# SQLAlchemy (the cost analyzer's history rows) 21, boto3 and google-auth (live AWS and GCP prices only) 21.
ANALYZER_START = """
import json, sys
import numpy as np
from kcost.cli.main import cli
ctx = cli.make_context("kcost", ["analyzer", "rightsizing"])
command = cli.get_command(ctx, "analyzer")
from kcost.analyzers import registry, runtime  # what the command imports as it starts the analyzer
from kcost.kube import client
registry.load("rightsizing")
from kcost.ml import anomaly, class_features, classes, confidence, confidence_features
confidence.shipped_scorer().estimate_many(np.zeros((2, len(confidence_features.FEATURES))))
classes.shipped_scorer().classify_many(np.ones((2, len(class_features.FEATURES))))
hours = np.arange(0, 3 * 86400, 300.0)
anomaly.detect(anomaly.hourly(hours, np.ones_like(hours), np.ones_like(hours)))
heavy = ("sklearn", "pandas", "scipy", "joblib", "sqlalchemy", "boto3", "google.auth")
print(json.dumps(sorted(name for name in heavy if name in sys.modules)))
"""


def test_the_rightsizing_analyzer_starts_and_scores_without_libraries_only_other_paths_need() -> None:
    ran = subprocess.run([sys.executable, "-c", ANALYZER_START], capture_output=True, text=True, check=True)
    assert json.loads(ran.stdout.splitlines()[-1]) == []


def test_every_command_is_listed_and_loads() -> None:
    ctx = cli.make_context("kcost", ["--help"], resilient_parsing=True)
    assert cli.list_commands(ctx) == sorted(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None
        assert command.name == name
