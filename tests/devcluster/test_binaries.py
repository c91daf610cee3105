from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from kcost.devcluster import binaries


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
