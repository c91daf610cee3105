"""How fast the admission webhook answers approvals, and what it adds to the API server's latency.

On a dev cluster of its own, with `kcost webhook` serving over TLS:
- admission latency: AdmissionReviews of an approval (the mutating stamp, then the validating
  check with its SubjectAccessReview, policy lookup and workload read) posted straight to the
  webhook, N sequential and N with C in flight;
- API server latency: the same approvals as merge patches through the API server by a user
  who holds `approve`, with the webhook registered and without it, as ratios.

Usage: python bench/admission.py [--approvals 1000] [--concurrency 50] [--access-review-ttl 0]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from rich.console import Console
from rich.table import Table

from kcost.devcluster import processes
from kcost.devcluster.cluster import DevCluster
from kcost.devcluster.nodes import default_nodes

REPO = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"
GROUP_PATH = "/apis/optimizer.kcost.dev/v1alpha1"
APPROVER = "alice"


def _recommendation(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationRecommendation",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
            "type": "right-sizing",
            "current": {"containers": [{"name": "app", "requests": {"cpu": "1"}}]},
            "changes": {"containers": [{"name": "app", "requests": {"cpu": "600m"}}]},
            "estimatedMonthlySavings": 12.5,
            "confidence": 0.9,
            "riskLevel": "low",
            "evidence": {"method": "bench"},
        },
    }


def _fixtures(approvals: int) -> list[dict[str, Any]]:
    """The namespace, a workload, a policy governing it, alice's right to approve, and the proposals."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "approver", "namespace": NAMESPACE},
        "rules": [
            {
                "apiGroups": ["optimizer.kcost.dev"],
                "resources": ["optimizationrecommendations"],
                "verbs": ["get", "patch", "approve"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "approver", "namespace": NAMESPACE},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "approver"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": APPROVER}],
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": NAMESPACE, "labels": {"app": "app"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }
    policy = {
        "apiVersion": "optimizer.kcost.dev/v1alpha1",
        "kind": "OptimizationPolicy",
        "metadata": {"name": "bench"},
        "spec": {"namespaces": [NAMESPACE], "constraints": {"minCpu": "100m"}},
    }
    recs = [_recommendation(f"{phase}-{i:05d}") for phase in _PHASES for i in range(approvals)]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return [namespace, role, binding, deployment, policy, *recs]


# Each measured phase approves proposals of its own: a second approval of one is no decision.
_PHASES = ("sequential-with", "concurrent-with", "sequential-without", "concurrent-without")


def _review(name: str, approved: bool) -> dict[str, Any]:
    new, old = _recommendation(name), _recommendation(name)
    new["spec"]["approval"] = {"approved": approved, "approvedBy": "mallory"}
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": name,
            "kind": {"group": "optimizer.kcost.dev", "version": "v1alpha1", "kind": "OptimizationRecommendation"},
            "resource": {
                "group": "optimizer.kcost.dev",
                "version": "v1alpha1",
                "resource": "optimizationrecommendations",
            },
            "name": name,
            "namespace": NAMESPACE,
            "operation": "UPDATE",
            "userInfo": {"username": APPROVER, "groups": ["system:authenticated"]},
            "object": new,
            "oldObject": old,
        },
    }


async def _timed(calls: list[Callable[[], Awaitable[None]]], concurrency: int) -> list[float]:
    """Each call's latency in ms, with at most ``concurrency`` in flight."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(one(call) for call in calls))
    return latencies


async def _admission(url: str, ca: Path, names: list[str], concurrency: int) -> list[float]:
    context = ssl.create_default_context(cafile=str(ca))
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def approve(name: str) -> None:
            review = _review(name, approved=True)
            async with session.post(f"{url}/mutate", json=review) as mutated:
                assert (await mutated.json())["response"]["allowed"]
            async with session.post(f"{url}/validate", json=review) as validated:
                answer = (await validated.json())["response"]
                assert answer["allowed"], answer

        return await _timed([functools.partial(approve, name) for name in names], concurrency)


async def _through_api_server(server: str, pki: Path, names: list[str], concurrency: int) -> list[float]:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(pki / f"user-{APPROVER}.crt", pki / f"user-{APPROVER}.key")
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
    patch = json.dumps({"spec": {"approval": {"approved": True}}})
    headers = {"Content-Type": "application/merge-patch+json"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def approve(name: str) -> None:
            path = f"{server}{GROUP_PATH}/namespaces/{NAMESPACE}/optimizationrecommendations/{name}"
            async with session.patch(path, data=patch, headers=headers) as answer:
                body = await answer.json()
                assert answer.status == 200, body
                assert body["spec"]["approval"]["approved"] is True

        return await _timed([functools.partial(approve, name) for name in names], concurrency)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _p(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def _print(results: dict[str, list[float]], approvals: int, concurrency: int, load: str) -> None:
    # The machine's load is part of the figure: latencies on a shared machine mean little without it.
    table = Table(title=f"admission webhook: {approvals} approvals per row", caption=f"load average {load}")
    for column in ("measure", "p50 ms", "p99 ms", "p50 ratio", "p99 ratio"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for label, values in results.items():
        table.add_row(label, f"{_p(values, 0.5):.1f}", f"{_p(values, 0.99):.1f}", "", "")
    for mode in ("sequential", f"{concurrency} in flight"):
        with_hook, without = results[f"API, {mode}, webhook"], results[f"API, {mode}, no webhook"]
        table.add_row(
            f"API {mode}: with / without webhook",
            "",
            "",
            f"{_p(with_hook, 0.5) / _p(without, 0.5):.2f}",
            f"{_p(with_hook, 0.99) / _p(without, 0.99):.2f}",
        )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--approvals", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--access-review-ttl",
        type=float,
        default=0.0,
        help="KCOST_WEBHOOK_ACCESS_REVIEW_TTL_SECONDS for the webhook (0: a SubjectAccessReview per decision)",
    )
    args = parser.parse_args()
    console = Console(stderr=True)
    port = _free_port()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="kcost-bench-admission-") as scratch:
        work = Path(scratch)
        cluster = DevCluster(work / "cluster", console)
        webhook: int | None = None
        try:
            state = cluster.up(default_nodes()[:1])
            cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
            cluster.kubectl("wait", "--for=condition=Established", "crd", "-l", "app.kubernetes.io/part-of=kcost")
            with console.status(f"creating {len(_PHASES) * args.approvals} proposals…"):
                documents = _fixtures(args.approvals)
                for start in range(0, len(documents), 500):
                    chunk = yaml.safe_dump_all(documents[start : start + 500])
                    cluster.kubectl("apply", "--server-side", "-f", "-", input_text=chunk)
            cluster.mint_user_kubeconfig(APPROVER)
            env = {
                "KUBECONFIG": str(state.admin_kubeconfig),
                "KCOST_WEBHOOK_PORT": str(port),
                "KCOST_WEBHOOK_CERT_DIR": str(work / "certs"),
                "KCOST_WEBHOOK_TRUSTED_USERS": "kcost",
                "KCOST_WEBHOOK_ACCESS_REVIEW_TTL_SECONDS": str(args.access_review_ttl),
            }
            kcost = str(Path(sys.executable).with_name("kcost"))
            webhook = processes.spawn("webhook", [kcost, "webhook"], work, env={**os.environ, **env})
            url = f"https://127.0.0.1:{port}"
            processes.wait_until(
                lambda: cluster.kubectl("get", "validatingwebhookconfiguration", "kcost", check=False).returncode == 0,
                what="the webhook registered",
                timeout_s=120,
                pid=webhook,
                log=work / "webhook.log",
            )
            ca = work / "certs" / "ca.crt"
            names = {phase: [f"{phase}-{i:05d}" for i in range(args.approvals)] for phase in _PHASES}
            with console.status("admission latency…"):
                # The webhook answers AdmissionReviews without persisting anything: the same proposals serve twice.
                results["admission, sequential"] = asyncio.run(_admission(url, ca, names["sequential-with"], 1))
                results[f"admission, {args.concurrency} in flight"] = asyncio.run(
                    _admission(url, ca, names["concurrent-with"], args.concurrency)
                )
            pki = cluster.pki_dir
            with console.status("API server latency with the webhook…"):
                results["API, sequential, webhook"] = asyncio.run(
                    _through_api_server(state.apiserver_url, pki, names["sequential-with"], 1)
                )
                results[f"API, {args.concurrency} in flight, webhook"] = asyncio.run(
                    _through_api_server(state.apiserver_url, pki, names["concurrent-with"], args.concurrency)
                )
            processes.stop(webhook)
            webhook = None
            cluster.kubectl("delete", "validatingwebhookconfiguration,mutatingwebhookconfiguration", "kcost")
            with console.status("API server latency without it…"):
                results["API, sequential, no webhook"] = asyncio.run(
                    _through_api_server(state.apiserver_url, pki, names["sequential-without"], 1)
                )
                results[f"API, {args.concurrency} in flight, no webhook"] = asyncio.run(
                    _through_api_server(state.apiserver_url, pki, names["concurrent-without"], args.concurrency)
                )
        finally:
            if webhook is not None:
                processes.stop(webhook)
            cluster.down()
    load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    _print(results, args.approvals, args.concurrency, load)


if __name__ == "__main__":
    main()
