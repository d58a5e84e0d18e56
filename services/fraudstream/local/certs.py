"""A private CA and the certificates of the secured local stack (`fraudstream up --secure`).

Everything is PEM under `<data_dir>/tls/` (directory 0700, files 0600): the broker, the
registry and the KSQL server present `server.pem` (valid for localhost and 127.0.0.1,
signed by `ca.pem`); clients trust `ca.pem`. Made once and reused, so a client configured
for one run still trusts the next; `issue` makes more (a client certificate for mTLS).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertPair", "LocalCa", "write_private"]

_VALIDITY = dt.timedelta(days=825)


def write_private(path: Path, data: bytes) -> Path:
    """Write `data` to a new file only its owner can read (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)
    return path


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key (PKCS#8 PEM, encrypted when a password was given)."""

    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fraudstream local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


_CA_USAGE = x509.KeyUsage(
    digital_signature=True, key_cert_sign=True, crl_sign=True,
    content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, encipher_only=False, decipher_only=False,
)  # fmt: skip


class LocalCa:
    """The stack's CA in `directory` (created on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cert = directory / "ca.pem"
        self._key_file = directory / "ca-key.pem"

    def _load_or_create(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        if self.cert.is_file() and self._key_file.is_file():
            cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
            key = serialization.load_pem_private_key(self._key_file.read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return cert, key
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        name = _name("fraudstream local CA")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
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
            .sign(key, hashes.SHA256())
        )
        write_private(self._key_file, _pkcs8(key, None))
        write_private(self.cert, cert.public_bytes(serialization.Encoding.PEM))
        return cert, key

    def issue(
        self,
        name: str,
        hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
        *,
        client: bool = False,
        password: str | None = None,
    ) -> CertPair:
        """`<name>.pem` + `<name>-key.pem` signed by the CA (reused when already there)."""
        pair = CertPair(self.directory / f"{name}.pem", self.directory / f"{name}-key.pem")
        if pair.cert.is_file() and pair.key.is_file() and password is None:
            return pair
        ca_cert, ca_key = self._load_or_create()
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if hosts:
            builder = builder.add_extension(_san(hosts), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        write_private(pair.key, _pkcs8(key, password))
        write_private(pair.cert, cert.public_bytes(serialization.Encoding.PEM))
        return pair

    def ca_file(self) -> Path:
        """The CA certificate clients trust (created if needed)."""
        self._load_or_create()
        return self.cert


def _pkcs8(key: ec.EllipticCurvePrivateKey, password: str | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
