"""Which RBAC grant each request of a ServiceAccount needed: the API server's audit log, then access reviews.

A grant is one (apiGroup, resource, verb) of one rule of one role. It is needed when some request
the account made is allowed with the account's roles and denied with a copy of them lacking that
grant. Both answers come from the API server's own authorizer (SubjectAccessReview): the copies
are bound to a made-up user with the account's groups, so nothing here re-implements RBAC; the
matching below only picks which requests are worth asking about.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.webhook_support import poll
from kcost.devcluster.cluster import DevCluster

RBAC = "rbac.authorization.k8s.io"
# Requests a grant is checked against (the first ones, in sorted order): more only repeat the answer.
REQUESTS_PER_GRANT = 3
DENIED_CODES = (401, 403)
CREATED = 201


@dataclass(frozen=True, order=True)
class Request:
    """What the authorizer decides on for one request: the SubjectAccessReview's resource attributes."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def path(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def attributes(self) -> dict[str, str]:
        fields = {"verb": self.verb, "group": self.group, "resource": self.resource}
        fields |= {"subresource": self.subresource, "namespace": self.namespace, "name": self.name}
        return {key: value for key, value in fields.items() if value}

    def __str__(self) -> str:
        where = "/".join(part for part in (self.namespace, self.name) if part)
        return f"{self.verb} {self.group or 'core'}/{self.path} {where}".strip()


@dataclass(frozen=True)
class Account:
    """A ServiceAccount, the groups its tokens carry and the roles bound to it (their rules as the cluster has them)."""

    namespace: str
    name: str
    cluster_roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> list[str]:
        return ["system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated"]


@dataclass(frozen=True)
class Grant:
    """One (apiGroup, resource, verb) of rule ``index`` of a role."""

    role: str
    namespaced: bool
    index: int
    group: str
    resource: str
    verb: str

    def matches(self, request: Request, rule: dict[str, Any]) -> bool:
        """Whether ``request`` is of this grant's kind (a candidate; the authorizer has the last word)."""
        names = rule.get("resourceNames") or []
        return (request.verb, request.group, request.path) == (self.verb, self.group, self.resource) and (
            not names or request.name in names
        )

    def __str__(self) -> str:
        return f"{self.role}[{self.index}] {self.verb} {self.group or 'core'}/{self.resource}"


def bound_account(cluster: DevCluster, namespace: str, name: str) -> Account:
    """The account and the rules of every (Cluster)Role bound to it, read now (before an uninstall removes them)."""
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    account = Account(namespace, name)
    for kind, role_kind, target in (
        ("clusterrolebindings", "clusterroles", account.cluster_roles),
        ("rolebindings", "roles", account.roles),
    ):
        scope = ["-n", namespace] if kind == "rolebindings" else []
        bindings = json.loads(cluster.kubectl("get", kind, *scope, "-o", "json").stdout)["items"]
        for binding in bindings:
            if subject in (binding.get("subjects") or []):
                role_name = binding["roleRef"]["name"]
                role = json.loads(cluster.kubectl("get", role_kind, role_name, *scope, "-o", "json").stdout)
                target[role_name] = role["rules"]
    if not account.cluster_roles and not account.roles:
        raise MissingRolesError(f"no Role or ClusterRole is bound to {account.user}: is the release installed?")
    return account


class MissingRolesError(AssertionError):
    """The roles a proof compares against are not (or no longer) in the cluster; the message names them."""


def require_roles(cluster: DevCluster, account: Account) -> None:
    """Each role bound to the account still exists: without them every grant would look unneeded."""
    gone = [
        f"{kind} {name}"
        for kind, names, scope in (
            ("ClusterRole", account.cluster_roles, []),
            ("Role", account.roles, ["-n", account.namespace]),
        )
        for name in names
        if cluster.kubectl("get", kind.lower(), name, *scope, check=False).returncode != 0
    ]
    if gone:
        raise MissingRolesError(
            f"{', '.join(gone)} (bound to {account.user} when read) not found: prove the grants while the release "
            "is installed"
        )


def requests_of(audit_log: Path, account: Account) -> set[Request]:
    """Every request the account made and was allowed; impersonation as its checks (user, groups, uid, extras)."""
    found: set[Request] = set()
    for line in audit_log.read_text().splitlines():
        event = json.loads(line)
        if event["user"]["username"] != account.user or "objectRef" not in event:
            continue
        if event.get("responseStatus", {}).get("code") in DENIED_CODES:
            continue
        ref = event["objectRef"]
        where = (ref["resource"], ref.get("subresource", ""), ref.get("namespace", ""), ref.get("name", ""))
        found.add(Request(event["verb"], ref.get("apiGroup", ""), *where))
        if event["verb"] in ("patch", "update") and event.get("responseStatus", {}).get("code") == CREATED:
            # A server-side apply (or a PUT) that made the object was also authorized as a create.
            found.add(Request("create", ref.get("apiGroup", ""), *where))
        if impersonated := event.get("impersonatedUser"):
            found.update(_impersonations(impersonated))
    return found


def _impersonations(user: dict[str, Any]) -> Iterator[Request]:
    # What the API server's impersonation filter asks the authorizer, one check per header.
    username = user.get("username", "")
    if username.startswith("system:serviceaccount:"):
        namespace, name = username.removeprefix("system:serviceaccount:").split(":", 1)
        yield Request("impersonate", "", "serviceaccounts", namespace=namespace, name=name)
    elif username:
        yield Request("impersonate", "", "users", name=username)
    for group in user.get("groups") or []:
        yield Request("impersonate", "", "groups", name=group)
    if uid := user.get("uid"):
        yield Request("impersonate", "authentication.k8s.io", "uids", name=uid)
    for key, values in (user.get("extra") or {}).items():
        for value in values:
            yield Request("impersonate", "authentication.k8s.io", "userextras", subresource=key, name=value)


def grants(account: Account) -> Iterator[Grant]:
    for namespaced, roles in ((False, account.cluster_roles), (True, account.roles)):
        for role, rules in roles.items():
            for index, rule in enumerate(rules):
                for group in rule.get("apiGroups", []):
                    for resource in rule.get("resources", []):
                        for verb in rule["verbs"]:
                            yield Grant(role, namespaced, index, group, resource, verb)


def _without(rules: list[dict[str, Any]], grant: Grant) -> list[dict[str, Any]]:
    """The rules with ``grant`` taken out of its rule (the rule split, the rest of it kept)."""
    kept = copy.deepcopy(rules)
    rule = kept.pop(grant.index)
    split = []
    for group in rule["apiGroups"]:
        for resource in rule["resources"]:
            verbs = [
                verb for verb in rule["verbs"] if (group, resource, verb) != (grant.group, grant.resource, grant.verb)
            ]
            if verbs:
                split.append({**rule, "apiGroups": [group], "resources": [resource], "verbs": verbs})
    return kept + split


@dataclass(frozen=True)
class Proof:
    """A grant and the request that needs it (None: no request of the run needs it)."""

    grant: Grant
    needed_by: Request | None


def prove(cluster: DevCluster, account: Account, requests: set[Request]) -> list[Proof]:
    """For each grant of the account's roles, a request allowed with them and denied without that grant."""
    require_roles(cluster, account)
    run = uuid.uuid4().hex[:6]
    all_grants = list(grants(account))
    rules_of = {**account.cluster_roles, **account.roles}
    candidates = {
        grant: sorted(r for r in requests if grant.matches(r, rules_of[grant.role][grant.index]))[:REQUESTS_PER_GRANT]
        for grant in all_grants
    }
    shadows = {grant: f"kcost-shadow-{run}-{number}" for number, grant in enumerate(all_grants)}
    control = f"kcost-shadow-{run}-all"
    cluster.kubectl("create", "-f", "-", input_text=json.dumps(_shadow_objects(account, shadows, control, run)))
    try:
        asked = sorted({request for listed in candidates.values() for request in listed})
        allowed = _allowed(cluster, account.user, account.groups, asked)
        # The copies are live once the one with every grant allows what the account was allowed.
        poll(
            "the copies of the roles in the authorizer",
            lambda: (
                _allowed(cluster, control, account.groups, [r for r in asked if allowed[r]])
                == {r: True for r in asked if allowed[r]}
            ),
        )
        queries = [(shadows[g], r) for g, listed in candidates.items() for r in listed if allowed[r]]
        answers = _reviews(cluster, [(user, account.groups, request) for user, request in queries])
        denied = {query for query, answer in zip(queries, answers, strict=True) if not answer}
        return [
            Proof(grant, next((r for r in candidates[grant] if (shadows[grant], r) in denied), None))
            for grant in all_grants
        ]
    finally:
        selector = f"kcost-test/shadows={run}"
        cluster.kubectl("delete", "clusterroles,clusterrolebindings", "-l", selector, "--wait=false")
        cluster.kubectl("delete", "roles,rolebindings", "-n", account.namespace, "-l", selector, "--wait=false")


def _shadow_objects(account: Account, shadows: dict[Grant, str], control: str, run: str) -> dict[str, Any]:
    """Per grant, a copy of its role without it, bound to a user of its own; that user also gets the other roles."""
    labels = {"kcost-test/shadows": run}
    items: list[dict[str, Any]] = []

    def bind(kind: str, name: str, role: str, users: list[str]) -> None:
        namespace = {"namespace": account.namespace} if kind == "RoleBinding" else {}
        items.append({
            "apiVersion": f"{RBAC}/v1", "kind": kind,
            "metadata": {"name": name, "labels": labels, **namespace},
            "roleRef": {"apiGroup": RBAC, "kind": kind.removesuffix("Binding"), "name": role},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user} for user in users],
        })  # fmt: skip

    for grant, user in shadows.items():
        kind = "Role" if grant.namespaced else "ClusterRole"
        namespace = {"namespace": account.namespace} if grant.namespaced else {}
        rules = (account.roles if grant.namespaced else account.cluster_roles)[grant.role]
        items.append({
            "apiVersion": f"{RBAC}/v1", "kind": kind,
            "metadata": {"name": user, "labels": labels, **namespace},
            "rules": _without(rules, grant),
        })  # fmt: skip
        bind(f"{kind}Binding", user, user, [user])
    # The unchanged roles, each bound to every copy's user whose grant is elsewhere, and to the control user.
    for namespaced, roles in ((False, account.cluster_roles), (True, account.roles)):
        kind = "RoleBinding" if namespaced else "ClusterRoleBinding"
        for role in roles:
            users = [user for grant, user in shadows.items() if grant.role != role] + [control]
            bind(kind, f"kcost-shadow-{run}-{role}", role, users)
    return {"apiVersion": "v1", "kind": "List", "items": items}


def _allowed(cluster: DevCluster, user: str, groups: list[str], requests: Iterable[Request]) -> dict[Request, bool]:
    listed = list(requests)
    return dict(zip(listed, _reviews(cluster, [(user, groups, r) for r in listed]), strict=True))


def _reviews(cluster: DevCluster, queries: list[tuple[str, list[str], Request]]) -> list[bool]:
    """The authorizer's answers, in order: one `kubectl create` of a List of SubjectAccessReviews."""
    if not queries:
        return []
    reviews = [
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {"user": user, "groups": groups, "resourceAttributes": request.attributes()},
        }
        for user, groups, request in queries
    ]
    answer = cluster.kubectl(
        "create", "-o", "json", "-f", "-", input_text=json.dumps({"apiVersion": "v1", "kind": "List", "items": reviews})
    )
    # kubectl prints one JSON document per object created, one after the other.
    decoder, text, position, answers = json.JSONDecoder(), answer.stdout, 0, []
    while position < len(text.rstrip()):
        item, position = decoder.raw_decode(text, position)
        answers.append(bool(item["status"].get("allowed")))
        while position < len(text) and text[position].isspace():
            position += 1
    return answers


def table(proofs: list[Proof]) -> str:
    """One line per grant: the grant, then the request that needs it or that none did."""
    width = max(len(str(proof.grant)) for proof in proofs)
    return "\n".join(f"{proof.grant!s:<{width}}  {proof.needed_by or '— no request needs it'}" for proof in proofs)
