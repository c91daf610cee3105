"""A missing or broken kubeconfig is one line naming the file, from every entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kcost.config import KubeconfigError
from kcost.kube import client


async def test_a_missing_kubeconfig_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere" / "config"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeconfigError, match=f"{missing}: no such file"):
        async with client.connect():
            pass


async def test_a_kubeconfig_without_the_context_asked_for_says_why(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(KubeconfigError, match=f"{kubeconfig}: .*dev"):
        async with client.connect(str(kubeconfig), context="dev"):
            pass


async def test_a_pod_without_its_service_account_token_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(KubeconfigError, match="in-cluster service account"):
        async with client.connect():
            pass


@pytest.mark.parametrize("command", [["api"], ["webhook", "--no-register"], ["operator"]], ids=" ".join)
def test_the_kcost_processes_print_one_line_instead_of_a_traceback(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "config"
    kcost = Path(sys.executable).with_name("kcost")
    result = subprocess.run(
        [str(kcost), *command],
        env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(missing), "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"Error: no usable kubeconfig ({missing}: no such file)" in result.stderr
