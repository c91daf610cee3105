from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from kcost.devcluster.scenario import library, openmetrics

END_S = 1_800_000_000
LINE = re.compile(r'^([a-z_]+)\{((?:[a-zA-Z_]+="[^"]*",?)*)\} (-?[0-9.e+-]+) ([0-9]+)$')


def test_counter_restarts_from_zero_at_each_reset() -> None:
    total = openmetrics._counter(np.ones(6), [2, 4])
    assert total.tolist() == [1, 2, 1, 2, 1, 2]


def test_label_names_are_sanitized_like_kube_state_metrics() -> None:
    assert openmetrics._label_name("node.kubernetes.io/instance-type") == "label_node_kubernetes_io_instance_type"


def test_written_files_are_grouped_openmetrics(tmp_path: Path) -> None:
    scenario = library.smoke().model_copy(update={"days": 0.25})
    files, samples = openmetrics.write(scenario, END_S, tmp_path, shards=2)
    counted = 0
    for path in files:
        lines = path.read_text().splitlines()
        assert lines[-1] == "# EOF"
        names: list[str] = []
        for line in lines[:-1]:
            match = LINE.match(line)
            assert match, line
            counted += 1
            if not names or names[-1] != match.group(1):
                names.append(match.group(1))
            assert int(match.group(4)) <= END_S
        assert len(names) == len(set(names)), f"{path.name}: a metric family is split"
    assert counted == samples
    text = files[0].read_text() + files[1].read_text()
    assert "kube_node_labels{" in text
    assert 'label_karpenter_sh_capacity_type="on-demand"' in text
