"""The control-plane binaries of the dev cluster: built from Go modules, cached by version.

Each binary comes from a small wrapper module in ``gomod/`` that pins one release
(see the go.mod files for why a wrapper is needed). The build runs once per version;
the result lives in ``~/.cache/kcost/bin/<component>-<version>/`` outside any checkout.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from kcost.devcluster import progress

KUBERNETES_VERSION = "v1.35.4"
ETCD_VERSION = "v3.6.5"
KWOK_VERSION = "v0.7.0"
HELM_VERSION = "v3.22.0"
# The Kubernetes release helm's own go.mod pins (client-go v0.37): `helm template` and
# `helm lint` assume it when they are not talking to a cluster.
HELM_KUBERNETES_MINOR = "37"

GOMOD_DIR = Path(__file__).parent / "gomod"


def cache_root() -> Path:
    """Where built binaries are kept: ``$KCOST_CACHE_DIR`` or ``~/.cache/kcost``."""
    return Path(os.environ.get("KCOST_CACHE_DIR", Path.home() / ".cache" / "kcost"))


def _version_ldflags() -> str:
    # Without these the binaries report v0.0.0 and the API server's compatibility
    # version check refuses to start.
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    pairs = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
    }
    flags = ["-s", "-w"]
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {package}.{key}={value}" for key, value in pairs.items()]
    return " ".join(flags)


@dataclass(frozen=True)
class Component:
    """One wrapper module and the commands it builds."""

    name: str
    version: str
    packages: tuple[str, ...]
    ldflags: str = "-s -w"

    @property
    def bin_dir(self) -> Path:
        return cache_root() / "bin" / f"{self.name}-{self.version}"

    def binary(self, command: str) -> Path:
        return self.bin_dir / command

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(package.rsplit("/", 1)[-1] for package in self.packages)

    def is_built(self) -> bool:
        return all(self.binary(command).is_file() for command in self.commands)


KUBE = Component(
    name="kube",
    version=KUBERNETES_VERSION,
    packages=(
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        "k8s.io/kubernetes/cmd/kube-scheduler",
        # kubectl of the same release: the machine's may be too far behind the server.
        "k8s.io/kubernetes/cmd/kubectl",
    ),
    ldflags=_version_ldflags(),
)
# The etcd wrapper module's own main package is the etcd command.
ETCD = Component(name="etcd", version=ETCD_VERSION, packages=("kcost.dev/devcluster/etcd",))
KWOK = Component(name="kwok", version=KWOK_VERSION, packages=("sigs.k8s.io/kwok/cmd/kwok",))


def _helm_ldflags() -> str:
    # What helm's own Makefile sets: without them `helm version` says v3.22 and offline
    # rendering assumes Kubernetes 1.20.
    internal = "helm.sh/helm/v3/internal/version"
    flags = ["-s", "-w", f"-X {internal}.version={HELM_VERSION}", f"-X {internal}.gitTreeState=clean"]
    for package in ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"):
        flags += [f"-X {package}.k8sVersionMajor=1", f"-X {package}.k8sVersionMinor={HELM_KUBERNETES_MINOR}"]
    return " ".join(flags)


# The chart tests' helm client (lint, template, install into the dev cluster).
HELM = Component(name="helm", version=HELM_VERSION, packages=("helm.sh/helm/v3/cmd/helm",), ldflags=_helm_ldflags())
COMPONENTS = (ETCD, KUBE, KWOK, HELM)
# The real node's binaries (`dev-cluster up --real-node`): built only when it is asked for.
NODE = Component(
    name="node",
    version=KUBERNETES_VERSION,
    packages=("k8s.io/kubernetes/cmd/kubelet", "k8s.io/kubernetes/cmd/kube-proxy"),
    ldflags=_version_ldflags(),
)
# The pod sandbox's process, in the pause image the real node's containerd starts every pod with.
PAUSE = Component(name="pause", version="1", packages=("kcost.dev/devcluster/pause",))
NODE_COMPONENTS = (NODE, PAUSE)


def kubectl() -> str:
    """The kubectl built with the control plane, else the one on PATH."""
    built = KUBE.binary("kubectl")
    return str(built) if built.is_file() else "kubectl"


def helm() -> str:
    """The helm built from its Go module, else the one on PATH."""
    built = HELM.binary("helm")
    return str(built) if built.is_file() else "helm"


class BuildError(RuntimeError):
    """A Go build failed; the message carries the tail of its output."""


def ensure_built(console: Console | None = None, components: tuple[Component, ...] = COMPONENTS) -> None:
    """Build every component that is not in the cache yet (idempotent)."""
    console = console or Console(stderr=True)
    go = shutil.which("go")
    for component in components:
        if component.is_built():
            continue
        if go is None:
            raise BuildError("the Go toolchain is needed to build the dev cluster: `go` is not on PATH")
        build(go, component, console)


@contextlib.contextmanager
def _building(component: Component) -> Iterator[None]:
    """One build of a component at a time across processes (`make test` beside `make demo`, parallel tests).

    Without it two builds share the staging folder, and one moves the other's binaries away.
    """
    lock_path = component.bin_dir.with_name(component.bin_dir.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when the process dies
        yield


def build(go: str, component: Component, console: Console) -> None:
    """Build one component into its cache folder, with progress shown; a build another process finished is kept."""
    with _building(component):
        if component.is_built():
            console.print(f"{component.name} {component.version} was built meanwhile → {component.bin_dir}")
            return
        _build(go, component, console)


def _build(go: str, component: Component, console: Console) -> None:
    component.bin_dir.mkdir(parents=True, exist_ok=True)
    staging = component.bin_dir.with_name(component.bin_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    command = [go, "build", "-trimpath", "-ldflags", component.ldflags, "-o", f"{staging}/", *component.packages]
    environment = {**os.environ, "CGO_ENABLED": "0"}
    started = time.monotonic()
    log_path = staging / "build.log"
    status = progress.step(
        console, f"building {component.name} {component.version} from Go modules (first run only, minutes)…"
    )
    with status, log_path.open("w") as log:
        result = subprocess.run(
            command, cwd=GOMOD_DIR / component.name, env=environment, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log_path.read_text().splitlines()[-30:])
        raise BuildError(f"building {component.name} {component.version} failed (exit {result.returncode}):\n{tail}")
    for command_name in component.commands:
        (staging / command_name).replace(component.binary(command_name))
    shutil.rmtree(staging, ignore_errors=True)
    console.print(
        f"built {component.name} {component.version} in {time.monotonic() - started:.0f} s → {component.bin_dir}"
    )
