"""TLS contexts over vdsm's PKI layout: mutual TLS, version 1.2 or later, CA-verified peers."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "certs/cacert.pem"
HOST_CERT = "certs/vdsmcert.pem"
HOST_KEY = "keys/vdsmkey.pem"
ENGINE_CERT = "certs/enginecert.pem"
ENGINE_KEY = "keys/enginekey.pem"
DEFAULT_PKI_DIR = "/etc/pki/vdsm"


class PkiError(Exception):
    """A PKI file is missing or unreadable."""


@dataclass(frozen=True)
class PkiFiles:
    ca: Path
    cert: Path
    key: Path


def _need(path: Path) -> Path:
    if not path.is_file():
        raise PkiError(
            f"PKI file missing: {path}. Create a development PKI with "
            f"'vdsm-net-pki init --out DIR' and pass --pki DIR"
        )
    return path


def server_files(pki_dir: str | Path) -> PkiFiles:
    base = Path(pki_dir)
    return PkiFiles(_need(base / CA_FILE), _need(base / HOST_CERT), _need(base / HOST_KEY))


def client_files(pki_dir: str | Path) -> PkiFiles:
    """The engine client pair when present, else the host's own pair (as vdsm-client uses)."""
    base = Path(pki_dir)
    ca = _need(base / CA_FILE)
    if (base / ENGINE_CERT).is_file() and (base / ENGINE_KEY).is_file():
        return PkiFiles(ca, base / ENGINE_CERT, base / ENGINE_KEY)
    return PkiFiles(ca, _need(base / HOST_CERT), _need(base / HOST_KEY))


def server_ssl_context(pki_dir: str | Path) -> ssl.SSLContext:
    """Server side: our host pair, and a client certificate signed by the CA is required."""
    files = server_files(pki_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(files.ca))
    ctx.load_cert_chain(str(files.cert), str(files.key))
    # No TLS 1.3 session tickets: OpenSSL sends two right after the handshake, in the burst
    # that carries CONNECTED, and the engine's client (one TLS record per poll, 1 s poll
    # timeout) then reads CONNECTED a second late. Resumption would save about 1.5 ms of a
    # 2.9 ms loopback handshake (bench/bench_tls_resume.py) on connections that live for hours.
    ctx.num_tickets = 0
    return ctx


def client_ssl_context(pki_dir: str | Path) -> ssl.SSLContext:
    """Client side: the server must present a certificate signed by the CA.

    Host names are not checked (vdsm-client does not check them either, and engine-signed host
    certificates name the host, which is often reached by address).
    """
    files = client_files(pki_dir)
    return client_context_from(files)


def client_context_from(files: PkiFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(files.ca))
    ctx.load_cert_chain(str(files.cert), str(files.key))
    return ctx


# Bytes asked of each TLS read (rpc.tls.direct); two full TLS records. asyncio's own TLS layer
# instead keeps a 256 KiB buffer per connection.
DEFAULT_TLS_READ_BUFFER = 32 * 1024
