from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from kcost.devcluster import binaries, processes


def test_every_component_has_a_pinned_wrapper_module() -> None:
    for component in binaries.COMPONENTS:
        module = binaries.GOMOD_DIR / component.name
        go_mod = (module / "go.mod").read_text()
        assert (module / "go.sum").exists(), f"{component.name}: go.sum pins the checksums"
        assert component.version.lstrip("v") in go_mod or component.version in go_mod


def test_kube_wrapper_pins_every_staging_module_to_the_release() -> None:
    go_mod = (binaries.GOMOD_DIR / "kube" / "go.mod").read_text()
    staging = [line for line in go_mod.splitlines() if "=>" in line]
    assert len(staging) >= 30
    minor = binaries.KUBERNETES_VERSION.removeprefix("v1.")
    assert all(line.strip().endswith(f"v0.{minor}") for line in staging)


def test_version_ldflags_name_the_release() -> None:
    assert f"k8s.io/component-base/version.gitVersion={binaries.KUBERNETES_VERSION}" in binaries.KUBE.ldflags


def test_cache_is_keyed_by_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCOST_CACHE_DIR", str(tmp_path))
    assert (
        binaries.KUBE.binary("kube-apiserver")
        == tmp_path / "bin" / f"kube-{binaries.KUBERNETES_VERSION}" / "kube-apiserver"
    )
    assert not binaries.KUBE.is_built()


def test_missing_go_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCOST_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(binaries.BuildError, match="`go` is not on PATH"):
        binaries.ensure_built(Console(file=open("/dev/null", "w")))  # noqa: SIM115


FAKE_GO = """#!/bin/bash
# `go build ... -o DIR/ PACKAGE`: say it ran, wait to be let go, then write the command.
out=""; previous=""
for arg in "$@"; do [ "$previous" = "-o" ] && out="$arg"; previous="$arg"; done
echo "$$" >> "$FAKE_GO_RUNS"
while [ ! -e "$FAKE_GO_RELEASE" ]; do sleep 0.05; done
touch "$out/$(basename "${@: -1}")"
"""
BUILD_ONE = """
import sys
from rich.console import Console
from kcost.devcluster import binaries
tool = binaries.Component(name="etcd", version="v-concurrent", packages=("kcost.dev/devcluster/etcd",))
binaries.build(sys.argv[1], tool, Console(stderr=True))
print(tool.binary("etcd"))
"""


def _waiting_on_a_lock(pid: int) -> bool:
    """``pid`` is blocked in flock (``/proc/locks`` lists waiters with ``->``)."""
    waiters = [line.split() for line in Path("/proc/locks").read_text().splitlines() if " -> " in line]
    return any(fields[5] == str(pid) for fields in waiters)  # "1: -> FLOCK ADVISORY WRITE <pid> …"


def test_two_processes_building_one_component_build_it_once(tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    runs, release = tmp_path / "runs", tmp_path / "release"
    runs.touch()
    env = {**os.environ, "KCOST_CACHE_DIR": str(tmp_path / "cache"), "FAKE_GO_RUNS": str(runs)}
    env["FAKE_GO_RELEASE"] = str(release)

    def start() -> subprocess.Popen[str]:
        command = [sys.executable, "-c", BUILD_ONE, str(go)]
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start()
    second: subprocess.Popen[str] | None = None
    try:
        processes.wait_until(lambda: len(runs.read_text().split()) == 1, what="the first build", timeout_s=60)
        second = start()
        processes.wait_until(
            lambda: _waiting_on_a_lock(second.pid) or len(runs.read_text().split()) > 1,
            what="the second build waiting for the first, or racing it",
            timeout_s=60,
            pid=second.pid,
        )
    finally:
        release.touch()  # the fake builds end either way
    assert second is not None
    outputs = [process.communicate(timeout=60) for process in (first, second)]
    assert [process.returncode for process in (first, second)] == [0, 0], outputs
    assert len(runs.read_text().split()) == 1, "the second process must use the first one's build"
    assert outputs[0][0] == outputs[1][0]
    assert Path(outputs[0][0].strip()).is_file()
    assert "was built meanwhile" in outputs[1][1]
