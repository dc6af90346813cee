"""A development PKI in vdsm's layout: ``vdsm-net-pki init --out DIR [--host-cn CN] [--force]``.

Writes a CA (``certs/cacert.pem``), a host pair (``certs/vdsmcert.pem``, ``keys/vdsmkey.pem``)
with SANs for the CN, localhost, 127.0.0.1 and ::1, and an engine client pair
(``certs/enginecert.pem``, ``keys/enginekey.pem``). Keys are mode 0600. The CA key is not kept.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rpc.tls.context import CA_FILE, ENGINE_CERT, ENGINE_KEY, HOST_CERT, HOST_KEY

CA_CN = "VDSM Certificate Authority"
ENGINE_CN = "vdsm-net engine client"
DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    """A private key and the certificate for it."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(cn: str, org: str = "VDSM Certificate") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _window(days: int, not_before: datetime.datetime | None) -> tuple[datetime.datetime, ...]:
    start = not_before or datetime.datetime.now(datetime.UTC) - DAY
    return start, start + days * DAY


def make_ca(cn: str = CA_CN, days: int = 3650) -> Issued:
    """A self-signed CA."""
    key = _key()
    start, end = _window(days, None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def issue(
    ca: Issued | None,
    cn: str,
    sans: Sequence[str] = (),
    days: int = 3650,
    not_before: datetime.datetime | None = None,
) -> Issued:
    """A leaf certificate for TLS server and client use, signed by ``ca`` (self-signed if None)."""
    key = _key()
    start, end = _window(days, not_before)
    issuer = ca.cert.subject if ca else _name(cn)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(_san(sans), critical=False)
    if ca is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
    return Issued(key, builder.sign(ca.key if ca else key, hashes.SHA256()))


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def init_pki(out: str | Path, host_cn: str | None = None, force: bool = False) -> list[Path]:
    """Write the dev PKI under ``out``; the paths written. FileExistsError unless ``force``."""
    base = Path(out)
    targets = [base / p for p in (CA_FILE, HOST_CERT, HOST_KEY, ENGINE_CERT, ENGINE_KEY)]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise FileExistsError(f"{existing[0]} exists; use --force to overwrite")
    cn = host_cn or socket.getfqdn() or "localhost"
    ca = make_ca()
    host = issue(ca, cn, [cn, "localhost", "127.0.0.1", "::1"])
    engine = issue(ca, ENGINE_CN)
    _write(base / CA_FILE, ca.cert_pem(), 0o644)
    _write(base / HOST_CERT, host.cert_pem(), 0o644)
    _write(base / HOST_KEY, host.key_pem(), 0o600)
    _write(base / ENGINE_CERT, engine.cert_pem(), 0o644)
    _write(base / ENGINE_KEY, engine.key_pem(), 0o600)
    return targets


def parser() -> argparse.ArgumentParser:
    """The command line (the man page is generated from it)."""
    parser = argparse.ArgumentParser(prog="vdsm-net-pki", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write a CA, a host pair and an engine client pair")
    init.add_argument("--out", required=True, help="directory to write (vdsm's layout)")
    init.add_argument("--host-cn", default=None, help="host certificate CN (default: FQDN)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        written = init_pki(args.out, args.host_cn, args.force)
    except (FileExistsError, OSError) as exc:
        print(f"vdsm-net-pki: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
