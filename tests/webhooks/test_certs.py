"""The webhook's CA and serving certificate: made once, renewed after two thirds of their life, CAs overlapping."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from kcost.webhooks import certs

T0 = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
LIFETIMES = certs.Lifetimes(ca=datetime.timedelta(hours=30), serving=datetime.timedelta(hours=9))
HOSTS = ("kcost-webhook.kcost-system.svc", "127.0.0.1")


def _served(step: certs.Certificates) -> x509.Certificate:
    return x509.load_pem_x509_certificate(step.cert_path.read_bytes())


def _bundle(step: certs.Certificates) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(step.ca_bundle)


def _verifies(step: certs.Certificates) -> bool:
    served = _served(step)
    for ca in _bundle(step):
        try:
            served.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def test_first_start_makes_a_ca_and_a_serving_certificate_for_the_hosts(tmp_path: Path) -> None:
    step = certs.ensure(tmp_path, HOSTS, LIFETIMES, T0)
    assert step.ca_renewed
    assert step.serving_renewed
    sans = _served(step).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["kcost-webhook.kcost-system.svc"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert _verifies(step)
    again = certs.ensure(tmp_path, HOSTS, LIFETIMES, T0 + datetime.timedelta(hours=1))
    assert not again.ca_renewed
    assert not again.serving_renewed


def test_the_serving_certificate_is_renewed_after_two_thirds_of_its_life(tmp_path: Path) -> None:
    first = _served(certs.ensure(tmp_path, HOSTS, LIFETIMES, T0)).serial_number
    assert not certs.ensure(tmp_path, HOSTS, LIFETIMES, T0 + datetime.timedelta(hours=5)).serving_renewed
    renewed = certs.ensure(tmp_path, HOSTS, LIFETIMES, T0 + datetime.timedelta(hours=6, minutes=1))
    assert renewed.serving_renewed
    assert not renewed.ca_renewed
    assert _served(renewed).serial_number != first


def test_a_new_ca_is_trusted_before_it_signs_and_the_old_one_until_it_expires(tmp_path: Path) -> None:
    certs.ensure(tmp_path, HOSTS, LIFETIMES, T0)
    assert certs.ensure(tmp_path, HOSTS, LIFETIMES, T0 + datetime.timedelta(hours=18)).serving_renewed
    rotation = T0 + datetime.timedelta(hours=20, minutes=1)
    step = certs.ensure(tmp_path, HOSTS, LIFETIMES, rotation)
    assert step.ca_renewed
    assert len(_bundle(step)) == 2, "old and new CA both trusted"
    old_issuer = _served(step).issuer
    # Within the grace period the old pair is still served, and still verifies.
    assert not step.serving_renewed
    assert _verifies(step)
    later = certs.ensure(tmp_path, HOSTS, LIFETIMES, rotation + datetime.timedelta(minutes=3))
    assert later.serving_renewed
    assert _served(later).issuer != old_issuer
    assert _verifies(later)
    expired = certs.ensure(tmp_path, HOSTS, LIFETIMES, T0 + datetime.timedelta(hours=31))
    assert len(_bundle(expired)) == 1, "the old CA leaves the bundle once expired"
