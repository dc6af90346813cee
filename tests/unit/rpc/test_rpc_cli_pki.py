"""vdsm-net-client and vdsm-net-pki, run through their main() functions."""

from __future__ import annotations

import ipaddress
import json
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from rpc import cli
from rpc.background import BackgroundServer
from rpc.tls import pki
from rpc.tls.context import CA_FILE, ENGINE_CERT, ENGINE_KEY, HOST_CERT, HOST_KEY


def run_cli(server: BackgroundServer, pki_dir: Path, *args: str) -> list[str]:
    return ["-a", "127.0.0.1", "-p", str(server.port), "--pki", str(pki_dir), *args]


def test_ping2_prints_json(
    server: BackgroundServer, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(run_cli(server, pki, "Host", "ping2")) == 0
    assert capsys.readouterr().out == "true\n"


def test_kv_args_are_strings_and_output_is_sorted_indented(
    server: BackgroundServer, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(run_cli(server, pki, "Test", "whoami")) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(json.loads(out), indent=4, sort_keys=True) + "\n"
    assert cli.main(run_cli(server, pki, "Host", "echo", "text=42")) == 0
    assert capsys.readouterr().out == '"42"\n'


def test_params_from_file(
    server: BackgroundServer, pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"text": {"nested": [1, 2]}}))
    assert cli.main(run_cli(server, pki, "-f", str(f), "Host", "echo")) == 0
    assert json.loads(capsys.readouterr().out) == {"nested": [1, 2]}
    assert cli.main(run_cli(server, pki, "-f", str(f), "Host", "echo", "a=b")) == 1
    assert "cannot be combined" in capsys.readouterr().err


def test_server_error_goes_to_stderr_with_status_1(
    server: BackgroundServer, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(run_cli(server, pki, "Test", "fail", "code=24", "message=nic used")) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("vdsm-net-client: Command Test.fail with args")
    assert "(code=24, message=nic used)" in captured.err


def test_missing_pki_is_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--pki", str(tmp_path), "Host", "ping2"]) == 1
    err = capsys.readouterr().err
    assert "PKI file missing" in err and "vdsm-net-pki init" in err


def test_connection_refused_is_an_error(pki: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-a", "127.0.0.1", "-p", "1", "--pki", str(pki), "Host", "ping2"]) == 1
    assert "cannot connect" in capsys.readouterr().err


def test_pki_init_layout_modes_and_sans(tmp_path: Path) -> None:
    out = tmp_path / "pki"
    assert pki.main(["init", "--out", str(out), "--host-cn", "host.example"]) == 0
    for rel in (CA_FILE, HOST_CERT, HOST_KEY, ENGINE_CERT, ENGINE_KEY):
        assert (out / rel).is_file()
    for rel in (HOST_KEY, ENGINE_KEY):
        assert stat.S_IMODE((out / rel).stat().st_mode) == 0o600
    host = x509.load_pem_x509_certificate((out / HOST_CERT).read_bytes())
    san = host.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"host.example", "localhost"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    ca = x509.load_pem_x509_certificate((out / CA_FILE).read_bytes())
    for rel in (HOST_CERT, ENGINE_CERT):
        x509.load_pem_x509_certificate((out / rel).read_bytes()).verify_directly_issued_by(ca)
    # both pairs load as TLS identities
    for cert, key in ((HOST_CERT, HOST_KEY), (ENGINE_CERT, ENGINE_KEY)):
        ssl.create_default_context().load_cert_chain(str(out / cert), str(out / key))


def test_pki_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert pki.main(["init", "--out", str(tmp_path), "--host-cn", "a"]) == 0
    before = (tmp_path / CA_FILE).read_bytes()
    assert pki.main(["init", "--out", str(tmp_path), "--host-cn", "a"]) == 1
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / CA_FILE).read_bytes() == before
    assert pki.main(["init", "--out", str(tmp_path), "--host-cn", "a", "--force"]) == 0
    assert (tmp_path / CA_FILE).read_bytes() != before
