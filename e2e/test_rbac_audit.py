"""The RBAC proof (e2e/rbac_audit.py) refuses to compare against roles that are gone, naming them.

Run after `helm uninstall`, the proof used to call every grant unneeded: the authorizer had no
roles left to compare with.
"""

from __future__ import annotations

import uuid

import pytest

from e2e import rbac_audit
from kcost.devcluster.cluster import DevCluster


def test_a_proof_whose_roles_are_gone_names_them(dev_cluster: DevCluster) -> None:
    suffix = uuid.uuid4().hex[:6]
    namespace, role = f"audit-{suffix}", f"audit-{suffix}"
    dev_cluster.kubectl("create", "namespace", namespace)
    try:
        dev_cluster.kubectl("create", "serviceaccount", "prober", "-n", namespace)
        dev_cluster.kubectl("create", "clusterrole", role, "--verb=list", "--resource=pods")
        dev_cluster.kubectl(
            "create", "clusterrolebinding", role, f"--clusterrole={role}", f"--serviceaccount={namespace}:prober"
        )
        account = rbac_audit.bound_account(dev_cluster, namespace, "prober")
        assert role in account.cluster_roles
        dev_cluster.kubectl("delete", "clusterrole", role)
        with pytest.raises(rbac_audit.MissingRolesError, match=f"ClusterRole {role} .* not found"):
            rbac_audit.prove(dev_cluster, account, {rbac_audit.Request("list", "", "pods")})
        nobody = f"no Role or ClusterRole is bound to system:serviceaccount:{namespace}:nobody"
        with pytest.raises(rbac_audit.MissingRolesError, match=nobody):
            rbac_audit.bound_account(dev_cluster, namespace, "nobody")
    finally:
        dev_cluster.kubectl("delete", "clusterrolebinding,clusterrole", role, "--ignore-not-found", check=False)
        dev_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
