"""The dashboard in a real headless browser (Debian's chromium, through chromedriver), opened with
``kubectl cost dashboard`` as a ServiceAccount user, against ``kcost api``, a real API server and
kcost's admission webhook.

Set ``KCOST_SCREENSHOTS_TO_DOCS=1`` to also copy the screenshot to docs/dashboard.png (the README's).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

from e2e.api_support import USERS, Api, serve_api
from e2e.webhook_support import poll
from kcost.history.models import DailyCost
from kcost.history.store import HistoryStore
from tests.statusapi import fakes

pytestmark = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver (make system-deps)",
)

REPO = Path(__file__).resolve().parents[1]
CLUSTER = "default"
# Three namespaces with different daily costs, so every chart has something to draw.
DAILY_COST_USD = {"shop": 40.0, "bank": 25.0, "search": 12.0}
HISTORY_DAYS = 30  # the page's window


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    for served in serve_api(tmp_path_factory.mktemp("dashboard")):
        _load_profile(served)
        asyncio.run(_write_history(served.database_url))
        yield served


def _load_profile(api: Api) -> None:
    """The ClusterCostProfile, with the status the cost analyzer would write (as kcost: its status writer)."""
    assert api.hooked.apply(fakes.sample("ClusterCostProfile")).returncode == 0
    monthly = {"cpu": 1400.0, "memory": 600.0, "storage": 90.0, "network": 30.0, "idle": 420.0, "total": 2540.0}
    top = [{"namespace": ns, "monthlyCost": cost * 30} for ns, cost in DAILY_COST_USD.items()]
    status = {"status": {"monthlyCost": monthly, "topNamespaces": top, "currency": "USD", "monthToDateCost": 810.0}}
    patched = api.hooked.kubectl(
        "patch",
        "clustercostprofile",
        CLUSTER,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
        kubeconfig=api.hooked.kcost_kubeconfig(),
    )
    assert patched.returncode == 0, patched.stderr


async def _write_history(database_url: str) -> None:
    store = HistoryStore()
    await store.connect(database_url)
    today = datetime.datetime.now(datetime.UTC).date()
    rows = [
        DailyCost(
            cluster=CLUSTER,
            namespace=namespace,
            day=today - datetime.timedelta(days=age),
            cpu_usd=0.55 * cost,
            memory_usd=0.25 * cost,
            storage_usd=0.05 * cost,
            idle_usd=0.15 * cost * (1 + age % 3),
            total_usd=cost * (1 + 0.15 * (age % 3)),
        )
        for namespace, cost in DAILY_COST_USD.items()
        for age in range(HISTORY_DAYS)
    ]
    await store.upsert_daily_costs(rows)
    await store.close()


@pytest.fixture
def namespace(api: Api) -> Iterator[str]:
    """A namespace with two proposals and one recommendation being rolled out."""
    name = f"dash-{uuid.uuid4().hex[:6]}"
    assert api.hooked.kubectl("create", "namespace", name).returncode == 0
    for rec, savings in (("rec-small", 12.0), ("rec-big", 85.0), ("rec-rolling", 40.0)):
        assert api.hooked.apply(fakes.recommendation(name, rec, savings=savings, phase=None)).returncode == 0
    rollout = {"status": {"phase": "Applying", "rollout": {"stage": "Observing", "step": 1}}}
    patched = api.hooked.kubectl(
        "patch",
        "rec",
        "rec-rolling",
        "-n",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(rollout),
        kubeconfig=api.hooked.kcost_kubeconfig(),
    )
    assert patched.returncode == 0, patched.stderr
    yield name
    api.hooked.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def read_only_namespace(api: Api) -> Iterator[str]:
    """A namespace with a proposal the user may read but not decide on."""
    name = f"dash-ro-{uuid.uuid4().hex[:6]}"
    assert api.hooked.kubectl("create", "namespace", name).returncode == 0
    assert api.hooked.apply(fakes.recommendation(name, "rec-other", savings=30.0, phase=None)).returncode == 0
    yield name
    api.hooked.kubectl("delete", "namespace", name, "--wait=false")


def _user_kubeconfig(api: Api, namespace: str, account: str, tmp_path: Path) -> tuple[str, Path]:
    """ServiceAccount ``account``, which may read kcost's objects everywhere (ClusterRole and binding
    ``read-<account>``) and decide in ``namespace``; its user name and kubeconfig."""
    user, token = api.user(account)
    readers = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"read-{account}"},
        "rules": [{"apiGroups": ["optimizer.kcost.dev"], "resources": ["*"], "verbs": ["get", "list", "watch"]}],
    }
    assert api.hooked.apply(readers).returncode == 0
    bound = api.hooked.kubectl(
        "create",
        "clusterrolebinding",
        f"read-{account}",
        f"--clusterrole=read-{account}",
        f"--serviceaccount={USERS}:{account}",
    )
    assert bound.returncode == 0, bound.stderr
    api.grant(namespace, user, ["patch", "approve", "reject"])
    kubeconfig = tmp_path / "user.kubeconfig"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "dev", "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True}}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": "dev", "user": account}}],
        "current-context": account,
    }
    kubeconfig.write_text(yaml.safe_dump(document))
    return user, kubeconfig


@pytest.fixture
def dashboard_url(api: Api, namespace: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``kubectl cost dashboard`` for the user: its URL, and the user's name."""
    account = f"dash-{uuid.uuid4().hex[:6]}"
    user, kubeconfig = _user_kubeconfig(api, namespace, account, tmp_path)
    printed = tmp_path / "dashboard.out"
    command = [
        str(Path(sys.executable).with_name("kubectl-cost")),
        "--kubeconfig",
        str(kubeconfig),
        "dashboard",
        "--api-url",
        api.url,
        "--no-open",
    ]
    env = {**os.environ, "KCOST_API_TOKEN": ""}
    with printed.open("w") as out:
        proxy = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        found = poll(
            "the dashboard URL printed", lambda: re.search(r"http://127\.0\.0\.1:\d+/\S+/", printed.read_text())
        )
        yield found.group(0), user
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        api.hooked.kubectl("delete", "clusterrolebinding,clusterrole", f"read-{account}", "--wait=false")
        api.hooked.kubectl("delete", "serviceaccount", account, "-n", USERS, "--wait=false")


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(shutil.which("chromedriver"))))
    try:
        yield driver
    finally:
        driver.quit()


def _count(browser: WebDriver, selector: str) -> int:
    return len(browser.find_elements("css selector", selector))


def _attribute(browser: WebDriver, selector: str, name: str) -> str | None:
    """An attribute read in one step in the page: rows are redrawn, a held element would go stale."""
    value: str | None = browser.execute_script(
        "const found = document.querySelector(arguments[0]); return found && found.getAttribute(arguments[1]);",
        selector,
        name,
    )
    return value


def _click(browser: WebDriver, selector: str) -> bool:
    """Click ``selector``; False when the row was redrawn between finding and clicking (try again)."""
    try:
        browser.find_element("css selector", selector).click()
    except StaleElementReferenceException:
        return False
    return True


def _errors(browser: WebDriver) -> list[dict[str, Any]]:
    """The console's errors since the last call (chromedriver's log, which selenium leaves untyped)."""
    entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry for entry in entries if entry["level"] == "SEVERE"]


def _stored(api: Api, namespace: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(api.hooked.kubectl("get", "rec", name, "-n", namespace, "-o", "json").stdout)
    return body


def test_the_dashboard_shows_the_data_decides_and_follows_kubectl(
    api: Api,
    namespace: str,
    read_only_namespace: str,
    dashboard_url: tuple[str, str],
    browser: WebDriver,
    tmp_path: Path,
) -> None:
    url, user = dashboard_url
    browser.get(url)
    poll("the event stream connected", lambda: _attribute(browser, "#live", "data-state") == "live")
    # Charts: 30 days of history stacked by resource and idle, the top namespaces, savings.
    poll("the history chart drawn", lambda: _count(browser, "#history-chart rect.bar.idle") == HISTORY_DAYS)
    assert _count(browser, "#history-chart rect.bar.cpu") == HISTORY_DAYS
    assert _count(browser, "#namespaces-chart rect.bar") == len(DAILY_COST_USD)
    assert _count(browser, "#savings-chart rect.bar") == 3
    row = f'#recommendations tr[data-key="{namespace}/rec-big"]'
    poll("the recommendations listed", lambda: _count(browser, row) == 1)
    assert _count(browser, f'#rollouts tr[data-key="{namespace}/rec-rolling"]') == 1
    # Buttons only where RBAC lets the user decide.
    assert _count(browser, f"{row} button.approve") == 1
    assert _count(browser, f"{row} button.reject") == 1
    other = f'#recommendations tr[data-key="{read_only_namespace}/rec-other"]'
    poll("the read-only recommendation listed", lambda: _count(browser, other) == 1)
    assert _count(browser, f"{other} button") == 0
    assert _errors(browser) == []
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    if os.environ.get("KCOST_SCREENSHOTS_TO_DOCS"):
        shutil.copy(tmp_path / "dashboard.png", REPO / "docs" / "dashboard.png")

    # Approve from the page: the recommendation changes in the cluster, stamped with the user.
    browser.execute_script("window.kcostNotReloaded = true")
    poll("the approve button clicked", lambda: _click(browser, f"{row} button.approve"))
    poll(
        "the page shows the approval",
        lambda: _attribute(browser, row, "data-decision") == "approved",
    )
    approval = _stored(api, namespace, "rec-big")["spec"]["approval"]
    assert approval["approved"] is True
    assert approval["approvedBy"] == user

    # A change made with kubectl shows up without a reload.
    added = fakes.recommendation(namespace, "rec-from-kubectl", savings=7.0, phase=None)
    assert api.hooked.apply(added).returncode == 0
    poll(
        "the kubectl change on the page",
        lambda: _count(browser, f'#recommendations tr[data-key="{namespace}/rec-from-kubectl"]') == 1,
    )
    rejected = api.hooked.kubectl(
        "patch", "rec", "rec-small", "-n", namespace, "--type=merge", "-p", '{"spec":{"approval":{"rejected":true}}}'
    )
    assert rejected.returncode == 0, rejected.stderr
    small = f'#recommendations tr[data-key="{namespace}/rec-small"]'
    poll(
        "kubectl's rejection on the page",
        lambda: _attribute(browser, small, "data-decision") == "rejected",
    )
    assert browser.execute_script("return window.kcostNotReloaded") is True
    assert _errors(browser) == []
    browser.save_screenshot(str(tmp_path / "dashboard-after.png"))


def test_opened_directly_the_page_asks_for_a_token_and_then_works(
    api: Api, namespace: str, browser: WebDriver, tmp_path: Path
) -> None:
    account = f"direct-{uuid.uuid4().hex[:6]}"
    user, token = api.user(account)
    api.grant(namespace, user, ["get", "list", "watch"])  # its Role goes with the namespace
    browser.get(f"{api.url}/")
    poll("the token form shown", lambda: _attribute(browser, "#login", "hidden") is None)
    browser.find_element("id", "token").send_keys(token)
    browser.find_element("css selector", "#login button").click()
    # A user of one namespace: its recommendations and history, the cluster-wide cost refused politely.
    row = f'#recommendations tr[data-key="{namespace}/rec-big"]'
    poll("the recommendations listed", lambda: _count(browser, row) == 1)
    poll("the event stream connected", lambda: _attribute(browser, "#live", "data-state") == "live")
    assert _count(browser, f"{row} button") == 0, "a reader gets no buttons"
    assert _attribute(browser, "#login", "hidden") is not None
    assert "not visible to you" in browser.find_element("id", "current").text
    browser.save_screenshot(str(tmp_path / "dashboard-reader.png"))
    api.hooked.kubectl("delete", "serviceaccount", account, "-n", USERS, "--wait=false")
