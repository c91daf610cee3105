"""One real node beside the kwok ones: containerd, a kubelet and kube-proxy on this machine.

Opt-in (``kcost dev-cluster up --real-node``): it needs root and changes host state, all of
it recorded under ``<work dir>/node/`` and undone by ``down``:

    node/containerd/     containerd's config, root, state and socket (its own, not the system's)
    node/kubelet/        the kubelet's root dir, config, pod logs
    node/cni/            the bridge network's config and address leases
    node/containerd/state/…/netns/   the pods' network namespaces
    node/host.json       the sysctls as they were before the node started

Pods reach the API server through the ``kubernetes`` Service (kube-proxy, iptables mode),
which points at the host's address; the API server reaches webhooks and Services the same
way. The node is tainted, so only pods that tolerate it (the chart's, given the values
``REAL_NODE_HELM_FLAGS``) run there; every other pod stays on kwok's simulated nodes.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from kcost.devcluster import binaries, kubeconfig, pki, processes
from kcost.devcluster.state import RealNodeState

NODE_NAME = "kcost-real-node"
# Label and taint key: the node runs only what asks for it.
REAL_NODE_KEY = "kcost.dev/real-node"
# The pods' addresses on the bridge; apart from kwok's POD_CIDR so the two never collide.
POD_SUBNET = "10.85.0.0/24"
BRIDGE = "kcost0"
# Where the sandbox (pause) image is imported; nothing is ever pulled.
PAUSE_IMAGE = "kcost.local/pause:dev"
CONTAINERD_NAMESPACE = "k8s.io"
# helm flags that put the chart's pods on the real node (a label's value is a string).
REAL_NODE_HELM_FLAGS = (
    "--set-string", "nodeSelector.kcost\\.dev/real-node=true",
    "--set", f"tolerations[0].key={REAL_NODE_KEY}",
    "--set", "tolerations[0].operator=Exists",
    "--set", "tolerations[0].effect=NoSchedule",
)  # fmt: skip
TOOL_TIMEOUT_S = 120
# Unpacking kcost's image (about 600 MB of files) took over two minutes on a loaded two-core machine.
IMPORT_TIMEOUT_S = 900
# What the kubelet, kube-proxy and the CNI bridge set on the host (see their docs);
# recorded before the node starts and written back on ``down``.
HOST_SYSCTLS = (
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
    "net/bridge/bridge-nf-call-iptables",
    "net/netfilter/nf_conntrack_max",
)


class RealNodeError(RuntimeError):
    """The real node cannot run here; the message says what is missing."""


def host_ip() -> str:
    """The address of the host's default route: reachable from the pods and from the host itself."""
    routes = json.loads(run("ip", "-j", "route", "get", "1.1.1.1").stdout)
    return str(routes[0]["prefsrc"])


def require_host() -> None:
    """Fail early, naming what is missing, when this machine cannot run the node."""
    if os.geteuid() != 0:
        raise RealNodeError("--real-node needs root: the kubelet manages cgroups, mounts and iptables")
    tools = {"containerd": "containerd", "runc": "runc", "ctr": "containerd", "iptables": "iptables"}
    tools |= {"conntrack": "conntrack", "umoci": "umoci"}
    missing = sorted({package for tool, package in tools.items() if shutil.which(tool) is None})
    if not Path(CNI_BIN_DIR, "bridge").exists():
        missing.append("containernetworking-plugins")
    if missing:
        raise RealNodeError(f"--real-node needs Debian's {', '.join(missing)}: apt-get install {' '.join(missing)}")


CNI_BIN_DIR = "/usr/lib/cni"


@dataclass(frozen=True)
class NodePaths:
    """The node's folders inside the cluster's work folder."""

    root: Path

    @property
    def containerd(self) -> Path:
        return self.root / "containerd"

    @property
    def socket(self) -> Path:
        return self.containerd / "containerd.sock"

    @property
    def kubelet(self) -> Path:
        return self.root / "kubelet"

    @property
    def cni(self) -> Path:
        return self.root / "cni"

    @property
    def host_record(self) -> Path:
        return self.root / "host.json"


# containerd refuses a Unix socket path over 104 bytes (the kubelet's limit is 107).
MAX_SOCKET_PATH_BYTES = 104


def require_short_socket_paths(paths: NodePaths) -> None:
    """Fail early, naming the folder, when the node's sockets would not fit a Unix socket path."""
    sockets = (
        Path(f"{paths.socket}.ttrpc"),
        paths.kubelet / "root" / "device-plugins" / "kubelet.sock",
        paths.kubelet / "root" / "pod-resources" / "kubelet.sock",
    )
    longest = max(sockets, key=lambda path: len(os.fsencode(path.absolute())))
    length = len(os.fsencode(longest.absolute()))
    if length > MAX_SOCKET_PATH_BYTES:
        raise RealNodeError(
            f"the cluster folder {paths.root.parent} is too deep for the real node: its socket {longest.absolute()}"
            f" would be {length} bytes, over the {MAX_SOCKET_PATH_BYTES} a Unix socket path may have;"
            " use a shorter --dir"
        )


def record_host(paths: NodePaths) -> None:
    """Keep the sysctls the node may change, once: a restart must not record its own changes."""
    if paths.host_record.exists():
        return
    values = {}
    for name in HOST_SYSCTLS:
        with contextlib.suppress(OSError):
            values[name] = Path("/proc/sys", name).read_text().strip()
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.host_record.write_text(json.dumps(values, indent=2))


def restore_host(paths: NodePaths) -> None:
    """Write the recorded sysctls back, then forget the record."""
    if not paths.host_record.exists():
        return
    for name, value in json.loads(paths.host_record.read_text()).items():
        with contextlib.suppress(OSError):
            current = Path("/proc/sys", name)
            if current.read_text().strip() != value:
                current.write_text(value)
    paths.host_record.unlink()


# -- containerd -------------------------------------------------------------------------

CONTAINERD_CONFIG = """\
version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails to start
  # ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  # The pods' network namespaces under the state folder (not /run/netns), where `down` finds them.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
"""


def start_containerd(paths: NodePaths, log_dir: Path) -> int:
    """containerd with its own config, state and socket; returns its pid once it answers."""
    config = paths.containerd / "config.toml"
    paths.containerd.mkdir(parents=True, exist_ok=True)
    (paths.cni / "conf").mkdir(parents=True, exist_ok=True)
    config.write_text(
        CONTAINERD_CONFIG.format(
            root=paths.containerd / "root",
            state=paths.containerd / "state",
            socket=paths.socket,
            pause_image=PAUSE_IMAGE,
            cni_bin=CNI_BIN_DIR,
            cni_conf=paths.cni / "conf",
        )
    )
    _write_cni_config(paths)
    pid = processes.spawn("containerd", ["containerd", f"--config={config}"], log_dir)
    processes.wait_until(
        lambda: ctr(paths, "version", check=False).returncode == 0,
        what="containerd",
        timeout_s=30,
        pid=pid,
        log=log_dir / "containerd.log",
    )
    return pid


def _write_cni_config(paths: NodePaths) -> None:
    network = {
        "cniVersion": "1.0.0",
        "name": "kcost",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                # Pods only talk to the host, Services and each other: no masquerading rules to leave behind.
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(paths.cni / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    (paths.cni / "conf" / "10-kcost.conflist").write_text(json.dumps(network, indent=2))


def ctr(
    paths: NodePaths, *args: str, check: bool = True, timeout_s: float = TOOL_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """containerd's own client on this node's socket, in the kubelet's namespace."""
    argv = ("ctr", f"--address={paths.socket}", f"--namespace={CONTAINERD_NAMESPACE}", *args)
    return run(*argv, check=check, timeout_s=timeout_s)


def import_image(paths: NodePaths, archive: Path, base_name: str) -> None:
    """Import an OCI archive as ``base_name:<tag>`` for the kubelet (no registry involved)."""
    ctr(paths, "images", "import", f"--base-name={base_name}", str(archive), timeout_s=IMPORT_TIMEOUT_S)


# -- kubelet and kube-proxy -------------------------------------------------------------


def issue_node_credentials(pki_dir: Path, node: RealNodeState, apiserver_url: str, work_dir: Path) -> None:
    """Client certificates of the kubelet (group system:nodes) and kube-proxy, and the kubelet's serving one."""
    ca = pki.KeyPair(pki_dir / "ca.crt", pki_dir / "ca.key")
    users = {
        "kubelet": (f"system:node:{NODE_NAME}", ("system:nodes",)),
        "kube-proxy": ("system:kube-proxy", ()),
    }
    for name, (user, groups) in users.items():
        client = pki.KeyPair(pki_dir / f"{name}.crt", pki_dir / f"{name}.key")
        if not client.cert_path.exists():
            client = pki.issue(ca, pki_dir, name, common_name=user, organizations=groups)
        path = work_dir / f"{name}.kubeconfig"
        kubeconfig.write(path, server_url=apiserver_url, ca=ca, user_name=user, client=client)
    if not (pki_dir / "kubelet-serving.crt").exists():
        pki.issue(
            ca,
            pki_dir,
            "kubelet-serving",
            common_name=f"system:node:{NODE_NAME}",
            server=True,
            dns_names=(NODE_NAME, "localhost"),
            ip_addresses=(node.host_ip, "127.0.0.1"),
        )


def start_kubelet(paths: NodePaths, node: RealNodeState, pki_dir: Path, work_dir: Path, log_dir: Path) -> int:
    """The kubelet, registered as ``NODE_NAME``; returns its pid once it is healthy."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This machine is on cgroup v1, which kubelet 1.35 refuses unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{paths.socket}",
        "podLogsDir": str(paths.kubelet / "pod-logs"),
        "address": node.host_ip,
        "port": node.kubelet_port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": node.kubelet_healthz_port,
        "tlsCertFile": str(pki_dir / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(pki_dir / "kubelet-serving.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki_dir / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "registerWithTaints": [{"key": REAL_NODE_KEY, "value": "true", "effect": "NoSchedule"}],
        # The images were imported, not pulled: never collect them, never evict for a full disk.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "resolvConf": "/etc/resolv.conf",
    }
    paths.kubelet.mkdir(parents=True, exist_ok=True)
    config_path = paths.kubelet / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    pid = processes.spawn(
        "kubelet",
        [
            str(binaries.NODE.binary("kubelet")),
            f"--config={config_path}",
            f"--kubeconfig={work_dir / 'kubelet.kubeconfig'}",
            f"--root-dir={paths.kubelet / 'root'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={node.host_ip}",
            f"--node-labels={REAL_NODE_KEY}=true",
            "--v=1",
        ],
        log_dir,
    )
    processes.wait_until(
        lambda: _http_ok(f"http://127.0.0.1:{node.kubelet_healthz_port}/healthz"),
        what="kubelet",
        timeout_s=60,
        pid=pid,
        log=log_dir / "kubelet.log",
    )
    return pid


def start_kube_proxy(node: RealNodeState, work_dir: Path, log_dir: Path) -> int:
    """kube-proxy in iptables mode: ClusterIP Services for the pods and for the API server."""
    pid = processes.spawn(
        "kube-proxy",
        [
            str(binaries.NODE.binary("kube-proxy")),
            f"--kubeconfig={work_dir / 'kube-proxy.kubeconfig'}",
            "--proxy-mode=iptables",
            f"--hostname-override={NODE_NAME}",
            f"--cluster-cidr={POD_SUBNET}",
            # Without br_netfilter's help a reply between two pods on the bridge would skip the
            # NAT table; masquerading every Service connection sends replies back through the host.
            "--masquerade-all=true",
            # Leave the host's conntrack sysctls and localhost routing as they are.
            "--conntrack-max-per-core=0",
            "--conntrack-tcp-timeout-established=0",
            "--conntrack-tcp-timeout-close-wait=0",
            "--iptables-localhost-nodeports=false",
            f"--healthz-bind-address=127.0.0.1:{node.proxy_healthz_port}",
            f"--metrics-bind-address=127.0.0.1:{node.proxy_metrics_port}",
            "--v=1",
        ],
        log_dir,
    )
    processes.wait_until(
        lambda: _http_ok(f"http://127.0.0.1:{node.proxy_healthz_port}/healthz"),
        what="kube-proxy",
        timeout_s=60,
        pid=pid,
        log=log_dir / "kube-proxy.log",
    )
    return pid


def listed_ids(listing: str) -> list[str]:
    """The non-empty lines of a ``ctr … ls -q`` listing."""
    return [line.strip() for line in listing.splitlines() if line.strip()]


def run(*argv: str, check: bool = True, timeout_s: float = TOOL_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run a host tool; with ``check``, a failure is a RealNodeError quoting its stderr."""
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, check=False)
    if check and result.returncode != 0:
        raise RealNodeError(f"`{' '.join(argv)}` failed (exit {result.returncode}): {result.stderr.strip()}")
    return result


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return int(response.status) == 200
