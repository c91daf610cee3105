from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kcost.devcluster import kubeconfig, pki


def _load(pair: pki.KeyPair) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pair.cert_pem())


def test_server_certificate_carries_sans_and_chains_to_the_ca(tmp_path: Path) -> None:
    ca = pki.create_ca(tmp_path)
    server = pki.issue(
        ca,
        tmp_path,
        "srv",
        common_name="kube-apiserver",
        server=True,
        dns_names=("localhost",),
        ip_addresses=("127.0.0.1",),
    )
    cert = _load(server)
    cert.verify_directly_issued_by(_load(ca))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert oct(server.key_path.stat().st_mode & 0o777) == "0o600"


def test_client_certificate_names_user_and_groups(tmp_path: Path) -> None:
    ca = pki.create_ca(tmp_path)
    client = _load(pki.issue(ca, tmp_path, "alice", common_name="alice", organizations=("devs", "ops")))
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert [a.value for a in client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["devs", "ops"]
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_ca_and_service_account_keys_are_reused(tmp_path: Path) -> None:
    first = pki.create_ca(tmp_path).cert_pem()
    assert pki.create_ca(tmp_path).cert_pem() == first
    keys = pki.create_service_account_keys(tmp_path)
    assert keys.cert_pem().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert pki.create_service_account_keys(tmp_path).key_pem() == keys.key_pem()


def test_kubeconfig_needs_exactly_one_credential(tmp_path: Path) -> None:
    ca = pki.create_ca(tmp_path)
    with pytest.raises(ValueError, match="exactly one"):
        kubeconfig.write(tmp_path / "k", server_url="https://127.0.0.1:1", ca=ca, user_name="u")
    path = kubeconfig.write(tmp_path / "k", server_url="https://127.0.0.1:1", ca=ca, user_name="u", token="t0k")
    document = yaml.safe_load(path.read_text())
    assert document["users"] == [{"name": "u", "user": {"token": "t0k"}}]
    assert document["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:1"
    assert oct(path.stat().st_mode & 0o777) == "0o600", "a kubeconfig holds credentials"
