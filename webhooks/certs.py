"""The webhook's TLS: a CA kcost manages and a serving certificate it signs, both renewed before they expire.

Files in the certificate folder: ``ca.crt``/``ca.key`` (the current CA), ``ca-previous.crt``
(the CA before it, still trusted until it expires) and ``tls.crt``/``tls.key`` (the serving
certificate). Each is renewed once two thirds of its lifetime have passed.

A renewed CA is not used at once: the caller first publishes the new trust bundle (old and
new CA) in the webhook configurations, and a serving certificate is signed with the new CA
only after a grace period, so the API server trusts the new certificate before it is
served and no request fails during a rotation.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Clocks of the API server and the webhook may differ a little.
CLOCK_SKEW = datetime.timedelta(minutes=1)
RENEW_AFTER_SHARE = 2 / 3
# How long a new CA is only trusted, not used: the API server must have seen the new bundle.
MAX_PUBLISH_GRACE = datetime.timedelta(minutes=2)


@dataclasses.dataclass(frozen=True)
class Lifetimes:
    ca: datetime.timedelta
    serving: datetime.timedelta


@dataclasses.dataclass(frozen=True)
class Certificates:
    """What one step left on disk: the trust bundle to publish and the serving pair to load."""

    ca_bundle: bytes
    cert_path: Path
    key_path: Path
    ca_renewed: bool
    serving_renewed: bool


def _load(path: Path) -> x509.Certificate | None:
    return x509.load_pem_x509_certificate(path.read_bytes()) if path.exists() else None


def _due(cert: x509.Certificate | None, lifetime: datetime.timedelta, now: datetime.datetime) -> bool:
    if cert is None:
        return True
    return now >= cert.not_valid_after_utc - lifetime * (1 - RENEW_AFTER_SHARE)


def _write(path: Path, data: bytes, private: bool = False) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_bytes(data)
    if private:
        temporary.chmod(0o600)
    temporary.replace(path)  # atomic: a reader never sees half a file


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _new_ca(directory: Path, lifetime: datetime.timedelta, now: datetime.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kcost-webhook-ca-{now:%Y%m%dT%H%M%S.%f}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    current = directory / "ca.crt"
    if current.exists():
        _write(directory / "ca-previous.crt", current.read_bytes())
    _write(directory / "ca.key", _key_pem(key), private=True)
    _write(current, cert.public_bytes(serialization.Encoding.PEM))


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _new_serving(directory: Path, hosts: tuple[str, ...], lifetime: datetime.timedelta, now: datetime.datetime) -> None:
    ca_cert = _load(directory / "ca.crt")
    ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    if ca_cert is None or not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise RuntimeError(f"{directory}: the webhook CA is missing or not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(min(now + lifetime, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_san(host) for host in hosts]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # The key first: a certificate is never loaded beside a key that does not match it.
    _write(directory / "tls.key.new", _key_pem(key), private=True)
    _write(directory / "tls.crt.new", cert.public_bytes(serialization.Encoding.PEM))
    (directory / "tls.key.new").replace(directory / "tls.key")
    (directory / "tls.crt.new").replace(directory / "tls.crt")


def _bundle(directory: Path, now: datetime.datetime) -> bytes:
    trusted = [directory / "ca.crt"]
    previous = _load(directory / "ca-previous.crt")
    if previous is not None and previous.not_valid_after_utc > now:
        trusted.insert(0, directory / "ca-previous.crt")
    return b"".join(path.read_bytes() for path in trusted)


def ensure(
    directory: Path, hosts: tuple[str, ...], lifetimes: Lifetimes, now: datetime.datetime | None = None
) -> Certificates:
    """One step of the rotation: make what is missing, renew what is due (see the module's note on CAs)."""
    now = now or datetime.datetime.now(datetime.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    serving = _load(directory / "tls.crt")
    ca_renewed = _due(_load(directory / "ca.crt"), lifetimes.ca, now)
    if ca_renewed:
        _new_ca(directory, lifetimes.ca, now)
    ca = _load(directory / "ca.crt")
    grace = min(lifetimes.serving * 0.15, MAX_PUBLISH_GRACE)
    ca_settled = ca is not None and now - (ca.not_valid_before_utc + CLOCK_SKEW) >= grace
    # A serving certificate is signed by a new CA only once the CA has been published a while,
    # unless there is nothing usable to serve at all (the first start).
    unusable = serving is None or serving.not_valid_after_utc <= now
    stale_issuer = serving is not None and ca is not None and serving.issuer != ca.subject
    serving_renewed = unusable or (ca_settled and (stale_issuer or _due(serving, lifetimes.serving, now)))
    if serving_renewed:
        _new_serving(directory, hosts, lifetimes.serving, now)
    return Certificates(
        ca_bundle=_bundle(directory, now),
        cert_path=directory / "tls.crt",
        key_path=directory / "tls.key",
        ca_renewed=ca_renewed,
        serving_renewed=serving_renewed,
    )
