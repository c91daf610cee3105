"""The request that ``tsdbgen`` reads: encoding and checks on the Python side (no Go needed).

A small decoder here reads the bytes back as the Go tool does (main.go documents the
format), so a change on one side that the other does not follow fails here.
"""

from __future__ import annotations

import math
import shutil
import stat
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

from kcost.devcluster import binaries, tsdbgen
from kcost.devcluster.tsdbgen import GeneratedSeries

START_MS = 1_700_006_400_000
STEP_MS = 60_000


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return values

    def text(self) -> str:
        (length,) = self.take("<H")
        raw = self.data[self.offset : self.offset + length]
        self.offset += length
        return raw.decode()


def decode(data: bytes) -> dict[str, Any]:
    reader = Reader(data)
    assert data[:8] == b"KCTSDB1\n"
    reader.offset = 8
    start_ms, step_ms, n_samples, block_ms, workers = reader.take("<qqIqI")
    (n_profiles,) = reader.take("<I")
    profiles = [np.array(reader.take(f"<{n_samples}d")) for _ in range(n_profiles)]
    (n_series,) = reader.take("<I")
    series = []
    for _ in range(n_series):
        (n_labels,) = reader.take("<H")
        labels = [(reader.text(), reader.text()) for _ in range(n_labels)]
        profile, scale, constant, round_to = reader.take("<iddd")
        series.append(
            {"labels": labels, "profile": profile, "scale": scale, "constant": constant, "round_to": round_to}
        )
    assert reader.offset == len(data), "bytes after the last series"
    return {
        "start_ms": start_ms,
        "step_ms": step_ms,
        "n_samples": n_samples,
        "block_ms": block_ms,
        "workers": workers,
        "profiles": profiles,
        "series": series,
    }


def encode(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "start_ms": START_MS,
        "step_ms": STEP_MS,
        "n_samples": 4,
        "profiles": [np.array([1.0, np.nan, 3.0, 4.5])],
        "series": [GeneratedSeries({"__name__": "cpu", "pod": "a"}, 0)],
        "block_ms": tsdbgen.DAY_MS,
        "workers": 2,
    }
    arguments.update(overrides)
    return b"".join(tsdbgen.encode(**arguments))


def test_request_round_trips_through_the_documented_layout() -> None:
    profiles = [np.array([1.0, np.nan, 3.0, 4.5]), [0.0, -1.0, 2.0, 1e300]]
    series = [
        GeneratedSeries({"pod": "a", "__name__": "mem"}, 1, scale=2.5, round_to=4096.0),
        GeneratedSeries({"__name__": "limit", "node": "ü-1"}, None, constant=7.0),
    ]
    decoded = decode(encode(profiles=profiles, series=series, block_ms=7_200_000, workers=3))

    assert (decoded["start_ms"], decoded["step_ms"], decoded["n_samples"]) == (START_MS, STEP_MS, 4)
    assert (decoded["block_ms"], decoded["workers"]) == (7_200_000, 3)
    np.testing.assert_array_equal(decoded["profiles"][0], [1.0, np.nan, 3.0, 4.5])
    np.testing.assert_array_equal(decoded["profiles"][1], [0.0, -1.0, 2.0, 1e300])
    assert decoded["series"] == [
        {
            "labels": [("pod", "a"), ("__name__", "mem")],
            "profile": 1,
            "scale": 2.5,
            "constant": 0.0,
            "round_to": 4096.0,
        },
        {
            "labels": [("__name__", "limit"), ("node", "ü-1")],
            "profile": -1,
            "scale": 1.0,
            "constant": 7.0,
            "round_to": 0.0,
        },
    ]


def test_profiles_of_any_numeric_dtype_go_out_as_float64() -> None:
    decoded = decode(encode(profiles=[np.array([1, 2, 3, 4], dtype=np.int32)]))
    assert decoded["profiles"][0].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_checks_happen_before_the_first_byte() -> None:
    # encode() raises at the call, not when iterated: nothing is sent to the tool for a bad request.
    with pytest.raises(ValueError, match="profile 0"):
        tsdbgen.encode(start_ms=0, step_ms=STEP_MS, n_samples=3, profiles=[np.zeros(2)], series=[])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"profiles": [np.zeros(3)]}, r"profile 0: shape \(3,\), expected \(4,\)"),
        ({"profiles": [np.zeros(4), np.zeros((2, 2))]}, r"profile 1: shape \(2, 2\)"),
        ({"profiles": [["a", "b", "c", "d"]]}, "profile 0: not an array of numbers"),
        ({"step_ms": 0}, "step_ms must be positive"),
        ({"n_samples": 0, "profiles": []}, "n_samples must be in"),
        ({"block_ms": 1_000}, r"block_ms \(1000\) must be at least step_ms"),
        ({"start_ms": 2**63}, "start_ms out of range"),
        ({"workers": -1}, "workers must be >= 0"),
    ],
)
def test_bad_request_is_a_clear_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode(**overrides)


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (
            GeneratedSeries({"__name__": "cpu", "pod": "b"}, 1),
            r"series 1 \{__name__='cpu', pod='b'\}: profile 1, but there are 1",
        ),
        (GeneratedSeries({"__name__": "cpu", "pod": "b"}, -1), "series 1 .*: profile -1, but there are 1"),
        (GeneratedSeries({}, 0), r"series 1 \{\}: has no labels"),
        (GeneratedSeries({"pod-name": "b"}, 0), r"series 1 \{pod-name='b'\}: label name 'pod-name' is not"),
        (GeneratedSeries({"__name__": "cpu", "pod": ""}, 0), "series 1 .*: label 'pod' has an empty value"),
        (GeneratedSeries({"__name__": "cpu", "pod": "x" * 70_000}, 0), "label 'pod' is longer than 65535 bytes"),
        (GeneratedSeries({"pod": "a", "__name__": "cpu"}, None), r"series 1 .*: same labels as series 0"),
        (GeneratedSeries({"__name__": "cpu", "pod": "b"}, 0, scale=math.inf), "series 1 .*: scale must be finite"),
        (GeneratedSeries({"__name__": "cpu", "pod": "b"}, None, constant=math.nan), "constant must be finite"),
        (GeneratedSeries({"__name__": "cpu", "pod": "b"}, 0, round_to=-1.0), "round_to must be >= 0"),
    ],
)
def test_bad_series_is_named_in_the_error(series: GeneratedSeries, message: str) -> None:
    good = GeneratedSeries({"__name__": "cpu", "pod": "a"}, 0)
    with pytest.raises(ValueError, match=message):
        encode(series=[good, series])


def test_expected_values_scale_round_half_to_even_and_keep_gaps() -> None:
    profiles = [np.array([1.0, np.nan, 2.5, 3.5, -2.5])]
    scaled = tsdbgen.expected_values(GeneratedSeries({"a": "b"}, 0, scale=2.0), profiles, 5)
    np.testing.assert_array_equal(scaled, [2.0, np.nan, 5.0, 7.0, -5.0])
    rounded = tsdbgen.expected_values(GeneratedSeries({"a": "b"}, 0, round_to=1.0), profiles, 5)
    np.testing.assert_array_equal(rounded, [1.0, np.nan, 2.0, 4.0, -2.0])
    pages = tsdbgen.expected_values(GeneratedSeries({"a": "b"}, 0, scale=10_000.0, round_to=4096.0), profiles, 5)
    np.testing.assert_array_equal(pages, [8192.0, np.nan, 24576.0, 36864.0, -24576.0])
    constant = tsdbgen.expected_values(GeneratedSeries({"a": "b"}, None, constant=3.0), profiles, 5)
    np.testing.assert_array_equal(constant, [3.0] * 5)


def test_version_names_the_prometheus_module_and_changes_with_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tsdbgen.component()
    assert before.version.startswith(tsdbgen.prometheus_module_version() + "-")
    assert tsdbgen.prometheus_module_version().startswith("v0.")
    assert before.bin_dir.name == f"tsdbgen-{before.version}"
    assert before.name not in {component.name for component in binaries.COMPONENTS}, "built on demand only"

    copy = tmp_path / "tsdbgen"
    shutil.copytree(tsdbgen.MODULE_DIR, copy)
    monkeypatch.setattr(tsdbgen, "MODULE_DIR", copy)
    assert tsdbgen.component().version == before.version
    (copy / "main.go").write_text((copy / "main.go").read_text() + "\n// changed\n")
    assert tsdbgen.component().version != before.version


def test_bad_series_fails_before_building_the_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_build(console: Console | None = None) -> Path:
        raise AssertionError("the tool must not be built for a request that is known to be bad")

    monkeypatch.setattr(tsdbgen, "ensure_tsdbgen", no_build)
    with pytest.raises(ValueError, match=r"series 0 \{\}: has no labels"):
        tsdbgen.write_blocks(
            tmp_path, start_ms=0, step_ms=STEP_MS, n_samples=2, profiles=[], series=[GeneratedSeries({}, None)]
        )


def _fake_tool(tmp_path: Path, script: str) -> Path:
    tool = tmp_path / "fake-tsdbgen"
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return tool


def test_tool_failure_raises_with_the_tail_of_its_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A tool that stops reading at once: the writer must not hang or die on the broken pipe.
    tool = _fake_tool(tmp_path, "echo 'tsdbgen: malformed input: series 3 of 9: no labels' >&2\nexit 2\n")
    monkeypatch.setattr(tsdbgen, "ensure_tsdbgen", lambda console=None: tool)
    big = np.zeros(1 << 20)  # 8 MiB: more than a pipe holds
    with pytest.raises(RuntimeError, match=r"(?s)tsdbgen failed \(exit 2\).*series 3 of 9: no labels"):
        tsdbgen.write_blocks(
            tmp_path / "out",
            start_ms=0,
            step_ms=STEP_MS,
            n_samples=big.size,
            profiles=[big],
            series=[GeneratedSeries({"a": "b"}, 0)],
            console=Console(file=open("/dev/null", "w")),  # noqa: SIM115
        )


def test_report_comes_from_the_tools_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = '{"blocks": [{"ulid": "01A"}, {"ulid": "01B"}], "samples": 42, "seconds": 0.1}'
    # The fake reads its whole input, like the real tool, and checks it got the magic.
    tool = _fake_tool(tmp_path, f"head -c 8 | grep -q KCTSDB1 || exit 9\ncat >/dev/null\necho '{summary}'\n")
    monkeypatch.setattr(tsdbgen, "ensure_tsdbgen", lambda console=None: tool)
    report = tsdbgen.write_blocks(
        tmp_path / "out",
        start_ms=0,
        step_ms=STEP_MS,
        n_samples=2,
        profiles=[np.ones(2)],
        series=[GeneratedSeries({"a": "b"}, 0)],
        console=Console(file=open("/dev/null", "w")),  # noqa: SIM115
    )
    assert report.blocks == (tmp_path / "out" / "01A", tmp_path / "out" / "01B")
    assert report.samples == 42
    assert report.seconds > 0
