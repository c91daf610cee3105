"""Taking the real node down: its containers, then what it left on the host.

The order matters: containers are stopped while containerd still runs (it tears their
networks down); the rest (iptables chains, the bridge, mounts, cgroups, sysctls) once
every node process is gone.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

from kcost.devcluster import binaries
from kcost.devcluster.realnode import BRIDGE, NodePaths, RealNodeError, ctr, listed_ids, restore_host, run


def stop_pods(paths: NodePaths, *, timeout_s: float = 60) -> None:
    """Stop and remove every container and sandbox, while containerd still runs (it tears their networks down)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tasks = listed_ids(ctr(paths, "tasks", "ls", "-q", check=False).stdout)
        containers = listed_ids(ctr(paths, "containers", "ls", "-q", check=False).stdout)
        if not tasks and not containers:
            return
        for task in tasks:
            ctr(paths, "tasks", "kill", "--signal=SIGKILL", task, check=False)
            ctr(paths, "tasks", "delete", "--force", task, check=False)
        for container in containers:
            ctr(paths, "containers", "delete", container, check=False)
        time.sleep(0.2)
    raise RealNodeError(f"containers still left in {paths.socket} after {timeout_s:.0f} s")


def clean_host(paths: NodePaths) -> None:
    """Undo what the node left on the host once its processes are stopped: kube-proxy's and
    the CNI's iptables rules, the bridge, mounts and network namespaces, the pods' cgroups, sysctls."""
    proxy = binaries.NODE.binary("kube-proxy")
    if proxy.exists():
        run(str(proxy), "--cleanup", "--proxy-mode=iptables", check=False)
    _remove_kubelet_chains()
    # Unmounting a pod's network namespace frees it, and its end of the bridge with it.
    for mount in reversed(_mounts_under(paths.root)):
        run("umount", "--lazy", mount, check=False)
    run("ip", "link", "delete", BRIDGE, check=False)
    shutil.rmtree(paths.cni / "ipam", ignore_errors=True)
    for cgroup_root in Path("/sys/fs/cgroup").glob("*/kubepods"):
        _remove_cgroup(cgroup_root)
    restore_host(paths)


# The kubelet's own chains (kube-proxy --cleanup leaves them): table → chains; the
# built-in chains that jump to them.
KUBELET_CHAINS = {
    "filter": ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY"),
    "nat": ("KUBE-KUBELET-CANARY",),
    "mangle": ("KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY"),
}
KUBELET_JUMPS = (("INPUT", "KUBE-FIREWALL"), ("OUTPUT", "KUBE-FIREWALL"))


def _remove_kubelet_chains() -> None:
    for tool in ("iptables", "ip6tables"):
        for chain, target in KUBELET_JUMPS:
            while run(tool, "-t", "filter", "-D", chain, "-j", target, check=False).returncode == 0:
                pass
        for table, chains in KUBELET_CHAINS.items():
            for chain in chains:
                run(tool, "-t", table, "-F", chain, check=False)
                run(tool, "-t", table, "-X", chain, check=False)


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].replace("\\040", " ")
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            mounts.append(mount_point)
    return mounts


def _remove_cgroup(path: Path) -> None:
    # cgroup folders are removed with rmdir, deepest first; a live process keeps its own.
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir():
            with contextlib.suppress(OSError):
                child.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()
