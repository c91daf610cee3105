"""Write Prometheus TSDB blocks fast, from value profiles, with the Go tool ``tsdbgen``.

Weeks of 60 s history for thousands of workloads is over a billion samples: as
OpenMetrics text through ``promtool tsdb create-blocks-from openmetrics`` that takes
hours. Most workloads share a shape, so a series here is a reference to a shared
profile (one value per step) times a scale; the Go tool (``gomod/tsdbgen``, built on
demand and cached like the control plane) expands them straight into the tsdb
library's block writer, one non-overlapping block per ``block_ms`` slice.

The wire format is described at the top of ``gomod/tsdbgen/main.go``; ``encode`` here
is its only writer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
from rich.console import Console

from kcost.devcluster import binaries

MODULE_DIR = binaries.GOMOD_DIR / "tsdbgen"
MAGIC = b"KCTSDB1\n"
DAY_MS = 24 * 3600 * 1000
# Prometheus 2.x, which reads these blocks, knows only these label names.
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MAX_SAMPLES = 1 << 27  # the Go tool's limit: larger is a corrupt header to it
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


@dataclass(frozen=True)
class GeneratedSeries:
    """One series: ``profile[k] * scale`` at step k (or ``constant`` when ``profile`` is None).

    With ``round_to`` > 0 each value is rounded half-to-even to a multiple of it, so that
    for example memory bytes are page-granular and compress like real data. A NaN in
    the profile is a gap: no sample at that step.
    """

    labels: Mapping[str, str]
    profile: int | None
    scale: float = 1.0
    constant: float = 0.0
    round_to: float = 0.0


@dataclass(frozen=True)
class WriteReport:
    """What one ``write_blocks`` call wrote."""

    blocks: tuple[Path, ...]
    samples: int
    seconds: float

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def prometheus_module_version() -> str:
    """The github.com/prometheus/prometheus version the tool is built with (from its go.mod)."""
    match = re.search(r"^\s*(?:require\s+)?github\.com/prometheus/prometheus\s+(v\S+)", _go_mod(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"{MODULE_DIR / 'go.mod'} does not require github.com/prometheus/prometheus")
    return match.group(1)


def _go_mod() -> str:
    return (MODULE_DIR / "go.mod").read_text()


def component() -> binaries.Component:
    """The tool as a build component; the version changes with the sources, so an edit rebuilds."""
    digest = hashlib.sha256()
    for name in ("main.go", "go.mod", "go.sum"):
        digest.update((MODULE_DIR / name).read_bytes())
    return binaries.Component(
        name="tsdbgen",
        version=f"{prometheus_module_version()}-{digest.hexdigest()[:10]}",
        packages=("kcost.dev/devcluster/tsdbgen",),
    )


def ensure_tsdbgen(console: Console | None = None) -> Path:
    """Build the tool unless this version is cached; returns the binary's path."""
    tool = component()
    if not tool.is_built():
        go = shutil.which("go")
        if go is None:
            raise binaries.BuildError("the Go toolchain is needed to build tsdbgen: `go` is not on PATH")
        # The control plane's build recipe (staging folder, CGO off, log tail on failure).
        binaries.build(go, tool, console or Console(stderr=True))
    return tool.binary("tsdbgen")


def expected_values(
    series: GeneratedSeries, profiles: Sequence[npt.ArrayLike], n_samples: int
) -> npt.NDArray[np.float64]:
    """What the tool writes for ``series`` at each step (NaN = no sample): the reference model."""
    if series.profile is None:
        values = np.full(n_samples, series.constant, dtype=np.float64)
    else:
        values = np.asarray(profiles[series.profile], dtype=np.float64) * series.scale
    if series.round_to > 0:
        # numpy's rint and Go's math.RoundToEven both round half to even.
        values = np.rint(values / series.round_to) * series.round_to
    return values


def encode(
    *,
    start_ms: int,
    step_ms: int,
    n_samples: int,
    profiles: Sequence[npt.ArrayLike],
    series: Iterable[GeneratedSeries],
    block_ms: int = DAY_MS,
    workers: int = 0,
) -> Iterator[bytes]:
    """The request for the tool, in pieces; everything is checked before the first piece.

    Profiles go out one at a time, so a large set is never copied whole.
    """
    header = _header(start_ms, step_ms, n_samples, block_ms, workers)
    arrays = [_profile(index, profile, n_samples) for index, profile in enumerate(profiles)]
    if len(arrays) > _U32:
        raise ValueError(f"{len(arrays)} profiles: at most {_U32}")
    encoded = _encode_series(series, len(arrays))

    def pieces() -> Iterator[bytes]:
        yield header
        yield struct.pack("<I", len(arrays))
        for array in arrays:
            yield array.tobytes()
        yield from encoded

    return pieces()


def write_blocks(
    out_dir: Path,
    *,
    start_ms: int,
    step_ms: int,
    n_samples: int,
    profiles: Sequence[npt.ArrayLike],
    series: Iterable[GeneratedSeries],
    block_ms: int = DAY_MS,
    workers: int | None = None,
    console: Console | None = None,
) -> WriteReport:
    """Write blocks for ``series`` into ``out_dir``: one per ``block_ms`` slice from ``start_ms``.

    Sample k is at ``start_ms + k * step_ms``. Pass a ``start_ms`` that is a multiple of
    ``block_ms`` (UTC midnight for days) to get blocks on the usual boundaries.
    ``workers`` slices are written at once (default: one per CPU).
    """
    console = console or Console(stderr=True)
    request = encode(
        start_ms=start_ms,
        step_ms=step_ms,
        n_samples=n_samples,
        profiles=profiles,
        series=series,
        block_ms=block_ms,
        workers=workers or os.cpu_count() or 1,
    )
    binary = ensure_tsdbgen(console)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    process = subprocess.Popen(
        [str(binary), str(out_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    # Its output is drained by threads, so that no side waits on a full pipe while the
    # other waits on it (a tool that fails early reports while we still write).
    stderr_tail: deque[str] = deque(maxlen=30)
    stdout_parts: list[bytes] = []
    readers = [
        threading.Thread(target=_relay_stderr, args=(process.stderr, stderr_tail, console), daemon=True),
        threading.Thread(target=_collect, args=(process.stdout, stdout_parts), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        for piece in request:
            process.stdin.write(piece)
    except BrokenPipeError:
        pass  # the tool stopped reading: it failed, and says why on stderr
    finally:
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        returncode = process.wait()
        for reader in readers:
            reader.join()
    if returncode != 0:
        tail = "\n".join(stderr_tail)
        raise RuntimeError(f"tsdbgen failed (exit {returncode}) writing blocks to {out_dir}:\n{tail}")
    summary = json.loads(b"".join(stdout_parts))
    blocks = tuple(out_dir / block["ulid"] for block in summary["blocks"])
    return WriteReport(blocks=blocks, samples=int(summary["samples"]), seconds=time.monotonic() - started)


def _collect(stream: IO[bytes], parts: list[bytes]) -> None:
    parts.append(stream.read())


def _relay_stderr(stream: Iterable[bytes], tail: deque[str], console: Console) -> None:
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        tail.append(line)
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _header(start_ms: int, step_ms: int, n_samples: int, block_ms: int, workers: int) -> bytes:
    if step_ms <= 0:
        raise ValueError(f"step_ms must be positive, got {step_ms}")
    if not 0 < n_samples <= _MAX_SAMPLES:
        raise ValueError(f"n_samples must be in 1..{_MAX_SAMPLES}, got {n_samples}")
    if block_ms < step_ms:
        raise ValueError(f"block_ms ({block_ms}) must be at least step_ms ({step_ms})")
    if not -(2**61) <= start_ms < 2**61:  # the Go side keeps sums of times within int64
        raise ValueError(f"start_ms out of range: {start_ms}")
    if step_ms * n_samples >= 2**61 or block_ms >= 2**61:
        raise ValueError("step_ms × n_samples or block_ms out of range")
    if not 0 <= workers <= _U32:
        raise ValueError(f"workers must be >= 0, got {workers}")
    return MAGIC + struct.pack("<qqIqI", start_ms, step_ms, n_samples, block_ms, workers)


def _profile(index: int, profile: npt.ArrayLike, n_samples: int) -> npt.NDArray[np.float64]:
    try:
        array = np.ascontiguousarray(profile, dtype="<f8")
    except (TypeError, ValueError) as error:
        raise ValueError(f"profile {index}: not an array of numbers ({error})") from error
    if array.shape != (n_samples,):
        raise ValueError(f"profile {index}: shape {array.shape}, expected ({n_samples},): one value per step")
    return array


def _describe(index: int, labels: Mapping[str, str]) -> str:
    inner = ", ".join(f"{name}={value!r}" for name, value in labels.items())
    return f"series {index} {{{inner}}}"


def _encode_series(series: Iterable[GeneratedSeries], n_profiles: int) -> list[bytes]:
    encoded: list[bytes] = []
    seen: dict[frozenset[tuple[str, str]], int] = {}
    for index, one in enumerate(series):
        what = _describe(index, one.labels)
        labels = _encode_labels(what, one.labels)
        key = frozenset(one.labels.items())
        if key in seen:
            raise ValueError(f"{what}: same labels as series {seen[key]}")
        seen[key] = index
        if one.profile is not None and not 0 <= one.profile < n_profiles:
            raise ValueError(f"{what}: profile {one.profile}, but there are {n_profiles} profiles")
        for field in ("scale", "constant", "round_to"):
            if not math.isfinite(getattr(one, field)):
                raise ValueError(f"{what}: {field} must be finite, got {getattr(one, field)}")
        if one.round_to < 0:
            raise ValueError(f"{what}: round_to must be >= 0, got {one.round_to}")
        profile = -1 if one.profile is None else one.profile
        encoded.append(labels + struct.pack("<iddd", profile, one.scale, one.constant, one.round_to))
    if len(encoded) > _U32:
        raise ValueError(f"{len(encoded)} series: at most {_U32}")
    return [struct.pack("<I", len(encoded)) + b"".join(encoded)]


def _encode_labels(what: str, labels: Mapping[str, str]) -> bytes:
    if not labels:
        raise ValueError(f"{what}: has no labels")
    if len(labels) > _U16:
        raise ValueError(f"{what}: {len(labels)} labels, at most {_U16}")
    parts = [struct.pack("<H", len(labels))]
    for name, value in labels.items():
        if not _LABEL_NAME.fullmatch(name):
            raise ValueError(f"{what}: label name {name!r} is not [a-zA-Z_][a-zA-Z0-9_]*")
        if not value:
            raise ValueError(f"{what}: label {name!r} has an empty value (leave the label out instead)")
        name_bytes, value_bytes = name.encode(), value.encode()
        if max(len(name_bytes), len(value_bytes)) > _U16:
            raise ValueError(f"{what}: label {name!r} is longer than {_U16} bytes")
        parts += [struct.pack("<H", len(name_bytes)), name_bytes, struct.pack("<H", len(value_bytes)), value_bytes]
    return b"".join(parts)
