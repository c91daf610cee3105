"""The local control plane: etcd, kube-apiserver, controller-manager, scheduler, kwok, Prometheus.

Everything binds to 127.0.0.1 on free ports and lives in one work folder:

    <work dir>/state.json        ports and pids (see ``state.py``)
    <work dir>/pki/              CA, serving and client certificates, service-account keys
    <work dir>/kubeconfig        admin (client certificate in ``system:masters``)
    <work dir>/kubeconfigs/      minted for other users and service accounts
    <work dir>/etcd/ prometheus/ data
    <work dir>/logs/<process>.log
    <work dir>/logs/audit.log    requests made by service accounts (metadata only, see ``AUDIT_POLICY``)

The API server runs the way envtest runs it (TLS, RBAC, service-account signing,
admission webhooks on); kwok plays the kubelets, so pods on the simulated nodes
reach Running and Ready.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import tenacity
import yaml
from rich.console import Console

from kcost.devcluster import (
    binaries,
    images,
    kubeconfig,
    kwok_stages,
    node_teardown,
    pki,
    processes,
    progress,
    prometheus,
    realnode,
)
from kcost.devcluster.nodes import NodeSpec, node_manifest
from kcost.devcluster.state import ClusterState, Ports, RealNodeState, dir_flag

# Requests a second the controller-manager and the scheduler may each make of the API server.
COMPONENT_API_QPS = 200
# Deployments and ReplicaSets the controller-manager syncs at once.
CONTROLLER_WORKERS = 50
# Start order; stopped in reverse.
PROCESS_ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "prometheus")
# The real node's processes (``up --real-node``), after the control plane; stopped first.
NODE_PROCESS_ORDER = ("containerd", "kubelet", "kube-proxy")
# The control plane's ports, by the process that listens on them.
PORT_FIELDS = {
    "etcd": ("etcd_client", "etcd_peer"),
    "kube-apiserver": ("apiserver",),
    "kube-controller-manager": ("controller_manager",),
    "kube-scheduler": ("scheduler",),
    "kwok": ("kwok",),
    "prometheus": ("prometheus",),
}
# Starts of one process when another keeps taking its ports first.
PORT_RACE_ATTEMPTS = 3
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# What workloads' service accounts ask the API server, at metadata level, so a test can tell which
# RBAC rule each request needed (e2e/test_chart_rbac.py); the control plane's own accounts and
# every other user stay out of it, which keeps the log small.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system"]},
        {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
        {"level": "None"},
    ],
}
AUDIT_LOG_MAX_MB = 50


class DevClusterError(RuntimeError):
    """The dev cluster could not do what was asked; the message says why."""


@dataclass
class DevCluster:
    """A handle on one dev cluster work folder."""

    work_dir: Path
    console: Console
    # The API server's /debug/pprof, for benchmarks that profile it (bench/apiserver_writes.py); off by default.
    apiserver_profiling: bool = False

    @property
    def pki_dir(self) -> Path:
        return self.work_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    @property
    def audit_log(self) -> Path:
        """JSON lines, one audit event per request of a service account (``AUDIT_POLICY``)."""
        return self.log_dir / "audit.log"

    def state(self) -> ClusterState | None:
        return ClusterState.load(self.work_dir)

    def require_state(self) -> ClusterState:
        state = self.state()
        if state is None:
            raise DevClusterError(
                f"no dev cluster in {self.work_dir}: run `kcost dev-cluster up{dir_flag(self.work_dir)}` first"
            )
        return state

    # -- lifecycle -------------------------------------------------------------------

    @property
    def node_paths(self) -> realnode.NodePaths:
        return realnode.NodePaths(self.work_dir / "node")

    def up(self, nodes: Sequence[NodeSpec] = (), *, real_node: bool = False) -> ClusterState:
        """Start whatever is not running yet (idempotent) and create ``nodes``; with ``real_node``
        also containerd, a kubelet and kube-proxy on this machine (see ``realnode``)."""
        binaries.ensure_built(self.console)
        prometheus.require_installed()
        if real_node:
            realnode.require_host()
            realnode.require_short_socket_paths(self.node_paths)
            binaries.ensure_built(self.console, binaries.NODE_COMPONENTS)
        state = self.state() or ClusterState(work_dir=self.work_dir, ports=_fresh_ports())
        core = ("etcd", "kube-apiserver")
        # The real node needs the API server and Prometheus on the host's address: a cluster
        # started without it restarts as a whole.
        adding_node = real_node and state.real_node is None
        if adding_node:
            state.real_node = _fresh_node_state()
        if adding_node or not all(_running(state, name) for name in core):
            # Without etcd or the API server every other process would need new ports or
            # certificates anyway: restart the control plane as a whole.
            restarted = PROCESS_ORDER if adding_node else PROCESS_ORDER[:-1]
            for name in reversed(restarted):
                if (pid := state.pids.pop(name, None)) is not None:
                    processes.stop(pid)
        state.ports = _keep_or_replace_ports(state)
        self._ensure_pki(state)
        order = PROCESS_ORDER + (NODE_PROCESS_ORDER if state.real_node else ())
        if state.real_node:
            realnode.record_host(self.node_paths)
        for name in order:
            if _running(state, name):
                continue
            with progress.step(self.console, f"starting {name}…"):
                state.pids[name] = self._start(state, name)
            state.save()
        if nodes:
            self.apply_nodes(nodes)
        if state.real_node:
            with progress.step(self.console, f"waiting for the real node {realnode.NODE_NAME} to be Ready…"):
                self.kubectl("wait", "--for=condition=Ready", "--timeout=120s", f"node/{realnode.NODE_NAME}")
        return state

    def load_image(self, image: images.BuiltImage) -> None:
        """Make ``image`` available to the real node's kubelet (imported, never pulled)."""
        if self.require_state().real_node is None:
            hint = f"kcost dev-cluster up --real-node{dir_flag(self.work_dir)}"
            raise DevClusterError(f"no real node in {self.work_dir}: run `{hint}` first")
        with progress.step(self.console, f"importing {image.reference} into the real node's containerd…"):
            realnode.import_image(self.node_paths, image.archive, image.repository)

    def restart(self, name: str) -> None:
        """Stop and start one process, e.g. Prometheus after new history blocks arrived."""
        state = self.require_state()
        if (pid := state.pids.pop(name, None)) is not None:
            processes.stop(pid)
        state.pids[name] = self._start(state, name)
        state.save()

    def _start(self, state: ClusterState, name: str) -> int:
        """Start ``name``; when another process took one of its ports between choosing and binding
        it (another cluster starting at the same moment), start it again on new ports."""

        def port_taken(error: BaseException) -> bool:
            return isinstance(error, processes.ProcessExitedError) and error.port_taken and name in PORT_FIELDS

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(port_taken),
            stop=tenacity.stop_after_attempt(PORT_RACE_ATTEMPTS),
            before_sleep=lambda _: self._move_ports(state, name),
            reraise=True,
        )
        return retrying(self._starters()[name], state)

    def _move_ports(self, state: ClusterState, name: str) -> None:
        taken = {field: getattr(state.ports, field) for field in PORT_FIELDS[name]}
        state.ports = state.ports.model_copy(update={field: processes.free_port() for field in taken})
        self.console.print(f"{name}: another process took port {taken}; starting it again on new ports")
        self._ensure_pki(state)  # the kubeconfigs name the API server's port

    def _starters(self) -> dict[str, Callable[[ClusterState], int]]:
        return {
            "etcd": self._start_etcd,
            "kube-apiserver": self._start_apiserver,
            "kube-controller-manager": self._start_controller_manager,
            "kube-scheduler": self._start_scheduler,
            "kwok": self._start_kwok,
            "prometheus": self._start_prometheus,
            "containerd": self._start_containerd,
            "kubelet": self._start_kubelet,
            "kube-proxy": self._start_kube_proxy,
        }

    def down(self) -> None:
        """Stop every process of this cluster; keep the work folder (``purge`` removes it)."""
        state = self.state()
        if state is None:
            return
        # Extra processes first (kcost itself, started by `kcost demo`), then the real node, then
        # the stack in reverse.
        extras = [name for name in state.pids if name not in PROCESS_ORDER + NODE_PROCESS_ORDER]
        for name in extras:
            processes.stop(state.pids.pop(name))
        if state.real_node is not None:
            self._stop_real_node(state)
        for name in reversed(PROCESS_ORDER):
            pid = state.pids.pop(name, None)
            if pid is not None:
                processes.stop(pid)
        state.save()

    def _stop_real_node(self, state: ClusterState) -> None:
        """The kubelet first (it would restart what is stopped), then every container while
        containerd still runs, then containerd and kube-proxy, then what they left on the host."""
        if (pid := state.pids.pop("kubelet", None)) is not None:
            processes.stop(pid)
        if _running(state, "containerd"):
            node_teardown.stop_pods(self.node_paths)
        for name in ("containerd", "kube-proxy"):
            if (pid := state.pids.pop(name, None)) is not None:
                processes.stop(pid)
        node_teardown.clean_host(self.node_paths)
        state.save()

    def purge(self) -> None:
        self.down()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def status(self) -> dict[str, str]:
        """Process name → ``running (pid N)`` or ``stopped``."""
        state = self.state()
        pids = state.pids if state else {}
        report = {}
        for name in PROCESS_ORDER + (NODE_PROCESS_ORDER if state and state.real_node else ()):
            pid = pids.get(name)
            report[name] = f"running (pid {pid})" if pid is not None and processes.is_alive(pid) else "stopped"
        return report

    # -- clients -----------------------------------------------------------------------

    def kubectl(
        self, *args: str, input_text: str | None = None, kubeconfig_path: Path | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl against this cluster."""
        state = self.require_state()
        command = [binaries.kubectl(), f"--kubeconfig={kubeconfig_path or state.admin_kubeconfig}", *args]
        result = subprocess.run(command, input=input_text, capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            raise DevClusterError(f"`kubectl {' '.join(args)}` failed: {result.stderr.strip()}")
        return result

    def apply_nodes(self, nodes: Sequence[NodeSpec]) -> None:
        """Create or update simulated nodes and wait until kwok reports them Ready."""
        manifests = yaml.safe_dump_all([node_manifest(node) for node in nodes])
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input_text=manifests)
        names = [node.name for node in nodes]
        with progress.step(self.console, f"waiting for {len(names)} simulated nodes to be Ready…"):
            self.kubectl("wait", "--for=condition=Ready", "--timeout=60s", *[f"node/{name}" for name in names])

    def mint_user_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig for ``user`` (client certificate; groups as its O entries)."""
        state = self.require_state()
        ca = pki.KeyPair(self.pki_dir / "ca.crt", self.pki_dir / "ca.key")
        safe = user.replace(":", "_").replace("/", "_")
        client = pki.issue(ca, self.pki_dir, f"user-{safe}", common_name=user, organizations=tuple(groups))
        target = self.work_dir / "kubeconfigs"
        target.mkdir(exist_ok=True)
        return kubeconfig.write(
            target / f"user-{safe}", server_url=state.apiserver_url, ca=ca, user_name=user, client=client
        )

    def mint_service_account_kubeconfig(self, namespace: str, name: str, duration: str = "24h") -> Path:
        """A kubeconfig with a bound token of ``namespace/name`` (created when missing)."""
        state = self.require_state()
        manifest = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
        self.kubectl("create", "namespace", namespace, check=False)
        self.kubectl("apply", "-f", "-", input_text=json.dumps(manifest))
        token = self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}").stdout.strip()
        ca = pki.KeyPair(self.pki_dir / "ca.crt", self.pki_dir / "ca.key")
        target = self.work_dir / "kubeconfigs"
        target.mkdir(exist_ok=True)
        user = f"system:serviceaccount:{namespace}:{name}"
        return kubeconfig.write(
            target / f"sa-{namespace}-{name}", server_url=state.apiserver_url, ca=ca, user_name=user, token=token
        )

    # -- the processes -------------------------------------------------------------------

    def _ensure_pki(self, state: ClusterState) -> None:
        self.pki_dir.mkdir(parents=True, exist_ok=True)
        ca = pki.create_ca(self.pki_dir)
        pki.create_service_account_keys(self.pki_dir)
        if not (self.pki_dir / "apiserver.crt").exists():
            pki.issue(
                ca,
                self.pki_dir,
                "apiserver",
                common_name="kube-apiserver",
                server=True,
                dns_names=(
                    "localhost",
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local",
                ),
                ip_addresses=("127.0.0.1", "10.96.0.1"),
            )
        if state.real_node is not None:
            realnode.issue_node_credentials(self.pki_dir, state.real_node, state.apiserver_url, self.work_dir)
        users = {
            "admin": ("kcost-dev-admin", ("system:masters",)),
            "controller-manager": ("system:kube-controller-manager", ()),
            "scheduler": ("system:kube-scheduler", ()),
        }
        for name, (user, groups) in users.items():
            client = pki.KeyPair(self.pki_dir / f"{name}.crt", self.pki_dir / f"{name}.key")
            if not client.cert_path.exists():
                client = pki.issue(ca, self.pki_dir, name, common_name=user, organizations=groups)
            # Rewritten every start: the API server's port may have changed.
            path = state.admin_kubeconfig if name == "admin" else self.work_dir / f"{name}.kubeconfig"
            kubeconfig.write(path, server_url=state.apiserver_url, ca=ca, user_name=user, client=client)

    def _start_etcd(self, state: ClusterState) -> int:
        client_url = f"http://127.0.0.1:{state.ports.etcd_client}"
        peer_url = f"http://127.0.0.1:{state.ports.etcd_peer}"
        pid = processes.spawn(
            "etcd",
            [
                str(binaries.ETCD.binary("etcd")),
                "--name=default",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                # A throwaway cluster: durability is not worth the fsync latency.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            self.log_dir,
        )
        processes.wait_until(
            lambda: _http_ok(f"{client_url}/health"), what="etcd", timeout_s=30, pid=pid, log=self.log_dir / "etcd.log"
        )
        return pid

    def _start_apiserver(self, state: ClusterState) -> int:
        p = self.pki_dir
        audit_policy = self.work_dir / "audit-policy.yaml"
        audit_policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        pid = processes.spawn(
            "kube-apiserver",
            [
                str(binaries.KUBE.binary("kube-apiserver")),
                f"--etcd-servers=http://127.0.0.1:{state.ports.etcd_client}",
                *_apiserver_address_flags(state),
                f"--secure-port={state.ports.apiserver}",
                f"--tls-cert-file={p / 'apiserver.crt'}",
                f"--tls-private-key-file={p / 'apiserver.key'}",
                f"--client-ca-file={p / 'ca.crt'}",
                # Node: the real node's kubelet is authorized as nodes are (RBAC grants it nothing).
                "--authorization-mode=Node,RBAC",
                # `kubectl logs` and `exec` on the real node: the API server calls its kubelet.
                f"--kubelet-client-certificate={p / 'admin.crt'}",
                f"--kubelet-client-key={p / 'admin.key'}",
                f"--kubelet-certificate-authority={p / 'ca.crt'}",
                # The node's name resolves nowhere; its address does.
                "--kubelet-preferred-address-types=InternalIP",
                "--enable-admission-plugins=NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={p / 'sa.pub'}",
                f"--service-account-signing-key-file={p / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                f"--profiling={str(self.apiserver_profiling).lower()}",
                f"--audit-policy-file={audit_policy}",
                f"--audit-log-path={self.audit_log}",
                f"--audit-log-maxsize={AUDIT_LOG_MAX_MB}",
                "--audit-log-maxbackup=1",
                "--v=1",
            ],
            self.log_dir,
        )
        ca = str(p / "ca.crt")
        client = (str(p / "admin.crt"), str(p / "admin.key"))
        processes.wait_until(
            lambda: _http_ok(f"{state.apiserver_url}/readyz", ca_file=ca, client=client),
            what="kube-apiserver",
            timeout_s=90,
            pid=pid,
            log=self.log_dir / "kube-apiserver.log",
        )
        return pid

    def _component_flags(self, name: str, port: int) -> list[str]:
        kubeconfig_path = self.work_dir / f"{name}.kubeconfig"
        return [
            f"--kubeconfig={kubeconfig_path}",
            f"--authentication-kubeconfig={kubeconfig_path}",
            f"--authorization-kubeconfig={kubeconfig_path}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.work_dir / name}",
            "--leader-elect=false",
            "--v=1",
            # The default client limits (controller-manager 20/s, scheduler 50/s) would cap the
            # controllers' workers below (a Deployment's sync makes 3–4 requests).
            f"--kube-api-qps={COMPONENT_API_QPS}",
            f"--kube-api-burst={2 * COMPONENT_API_QPS}",
        ]

    def _start_controller_manager(self, state: ClusterState) -> int:
        p = self.pki_dir
        port = state.ports.controller_manager
        pid = processes.spawn(
            "kube-controller-manager",
            [
                str(binaries.KUBE.binary("kube-controller-manager")),
                *self._component_flags("controller-manager", port),
                "--use-service-account-credentials=true",
                # Five workers each (the default) make about 5 ReplicaSets and pods a second on a loaded
                # machine, each sync waiting on the API server: 1,000 Deployments took minutes to get pods.
                f"--concurrent-deployment-syncs={CONTROLLER_WORKERS}",
                f"--concurrent-replicaset-syncs={CONTROLLER_WORKERS}",
                f"--service-account-private-key-file={p / 'sa.key'}",
                f"--root-ca-file={p / 'ca.crt'}",
                f"--cluster-signing-cert-file={p / 'ca.crt'}",
                f"--cluster-signing-key-file={p / 'ca.key'}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            ],
            self.log_dir,
        )
        processes.wait_until(
            lambda: _http_ok(f"https://127.0.0.1:{port}/healthz", insecure=True),
            what="kube-controller-manager",
            timeout_s=60,
            pid=pid,
            log=self.log_dir / "kube-controller-manager.log",
        )
        return pid

    def _start_scheduler(self, state: ClusterState) -> int:
        port = state.ports.scheduler
        pid = processes.spawn(
            "kube-scheduler",
            [
                str(binaries.KUBE.binary("kube-scheduler")),
                *self._component_flags("scheduler", port),
            ],
            self.log_dir,
        )
        processes.wait_until(
            lambda: _http_ok(f"https://127.0.0.1:{port}/healthz", insecure=True),
            what="kube-scheduler",
            timeout_s=60,
            pid=pid,
            log=self.log_dir / "kube-scheduler.log",
        )
        return pid

    def _start_kwok(self, state: ClusterState) -> int:
        # A previous kwok's node leases would keep this one off those nodes until they
        # expire: hand them over at once (a real node's kubelet renews its own within seconds).
        self.kubectl(
            "delete", "leases", "--all", "-n", "kube-node-lease", "--ignore-not-found", "--wait=false", check=False
        )
        pid = processes.spawn(
            "kwok",
            [
                str(binaries.KWOK.binary("kwok")),
                f"--kubeconfig={state.admin_kubeconfig}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--manage-nodes-with-label-selector=",
                "--manage-single-node=",
                f"--cidr={POD_CIDR}",
                "--node-ip=10.0.0.1",
                "--node-lease-duration-seconds=10",
                f"--server-address=127.0.0.1:{state.ports.kwok}",
                # kcost's pod stages (the whole lifecycle plus test faults); kwok's own node stages.
                f"--config={self._kwok_config()}",
            ],
            self.log_dir,
        )
        processes.wait_until(
            lambda: _http_ok(f"http://127.0.0.1:{state.ports.kwok}/healthz"),
            what="kwok",
            timeout_s=30,
            pid=pid,
            log=self.log_dir / "kwok.log",
        )
        return pid

    def _kwok_config(self) -> Path:
        path = self.work_dir / "kwok.yaml"
        path.write_text(kwok_stages.config_yaml())
        return path

    def _start_prometheus(self, state: ClusterState) -> int:
        # Pods on the real node query it at the host's address.
        listen_host = "0.0.0.0" if state.real_node else "127.0.0.1"  # noqa: S104 - reached from the pod network
        return prometheus.start(self.work_dir / "prometheus", state.ports.prometheus, self.log_dir, listen_host)

    def _start_containerd(self, _state: ClusterState) -> int:
        pid = realnode.start_containerd(self.node_paths, self.log_dir)
        # Its own sandbox image, since nothing can be pulled (cached; importing again is a no-op).
        realnode.import_image(self.node_paths, images.build_pause_image(self.console).archive, images.PAUSE_REPOSITORY)
        return pid

    def _start_kubelet(self, state: ClusterState) -> int:
        assert state.real_node is not None
        return realnode.start_kubelet(self.node_paths, state.real_node, self.pki_dir, self.work_dir, self.log_dir)

    def _start_kube_proxy(self, state: ClusterState) -> int:
        assert state.real_node is not None
        return realnode.start_kube_proxy(state.real_node, self.work_dir, self.log_dir)


def _running(state: ClusterState, name: str) -> bool:
    pid = state.pids.get(name)
    return pid is not None and processes.is_alive(pid)


def _apiserver_address_flags(state: ClusterState) -> list[str]:
    if state.real_node is None:
        # Loopback is not a valid endpoint address, so don't publish one for `kubernetes`.
        return ["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none"]
    # Pods reach the API server through the `kubernetes` Service, which points at the host.
    return ["--bind-address=0.0.0.0", f"--advertise-address={state.real_node.host_ip}"]


def _fresh_node_state() -> RealNodeState:
    return RealNodeState(
        host_ip=realnode.host_ip(),
        kubelet_port=processes.free_port(),
        kubelet_healthz_port=processes.free_port(),
        proxy_healthz_port=processes.free_port(),
        proxy_metrics_port=processes.free_port(),
    )


def _fresh_ports() -> Ports:
    return Ports(
        etcd_client=processes.free_port(),
        etcd_peer=processes.free_port(),
        apiserver=processes.free_port(),
        controller_manager=processes.free_port(),
        scheduler=processes.free_port(),
        kwok=processes.free_port(),
        prometheus=processes.free_port(),
    )


def _keep_or_replace_ports(state: ClusterState) -> Ports:
    """Keep each port whose process still runs or that is still free; replace the rest."""
    ports = state.ports.model_dump()
    owners = {field: name for name, fields in PORT_FIELDS.items() for field in fields}
    for field, port in ports.items():
        if not _running(state, owners[field]) and not processes.port_is_free(port):
            ports[field] = processes.free_port()
    return Ports(**ports)


def _http_ok(
    url: str, *, ca_file: str | None = None, client: tuple[str, str] | None = None, insecure: bool = False
) -> bool:
    context: ssl.SSLContext | None = None
    if url.startswith("https"):
        context = ssl.create_default_context(cafile=ca_file)
        if insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if client is not None:
            context.load_cert_chain(*client)
    with urllib.request.urlopen(url, timeout=2, context=context) as response:
        return int(response.status) == 200
