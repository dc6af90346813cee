"""The choice of the guest runner (tests/uml): the KVM-usability test, the XSAVE-size test, the
forced-runner variable, and the initramfs archive the QEMU runners boot."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.uml import boot, choose, initramfs, probes

INTEL_AMX = "processor\t: 0\nflags\t\t: fpu sse2 avx avx512f amx_tile vmx\n\nprocessor\t: 1\n"
NO_VIRT = "processor\t: 0\nflags\t\t: fpu sse2 avx\n"


@dataclass
class FakeMachine:
    xsave_size: int
    kvm_ok: bool = False
    boots: set[str] = field(default_factory=set)
    probed: list[str] = field(default_factory=list)

    def xsave(self) -> int:
        return self.xsave_size

    def kvm(self) -> probes.KvmVerdict:
        return probes.KvmVerdict(self.kvm_ok, "usable" if self.kvm_ok else "no vmx or svm")

    def probe(self, runner: str) -> str | None:
        self.probed.append(runner)
        return None if runner in self.boots else "it panicked"


def machine_files(tmp_path: Path, cpuinfo: str, pvm: bool, device: bool) -> tuple[Path, Path, Path]:
    info = tmp_path / "cpuinfo"
    info.write_text(cpuinfo, encoding="utf-8")
    sysmod = tmp_path / "module"
    (sysmod / "kvm").mkdir(parents=True)
    if pvm:
        (sysmod / "kvm_pvm").mkdir()
    dev = tmp_path / "kvm"
    if device:
        dev.write_bytes(b"")
    return info, dev, sysmod


def test_kvm_is_usable_with_vmx_an_openable_device_and_no_pvm(tmp_path: Path) -> None:
    info, dev, sysmod = machine_files(tmp_path, INTEL_AMX, pvm=False, device=True)
    verdict = probes.kvm_verdict(info, dev, sysmod)
    assert verdict.usable
    assert "vmx" in verdict.reason


def test_kvm_pvm_is_never_usable_even_with_vmx(tmp_path: Path) -> None:
    info, dev, sysmod = machine_files(tmp_path, INTEL_AMX, pvm=True, device=True)
    verdict = probes.kvm_verdict(info, dev, sysmod)
    assert not verdict.usable
    assert "kvm_pvm" in verdict.reason


def test_kvm_needs_vmx_or_svm(tmp_path: Path) -> None:
    info, dev, sysmod = machine_files(tmp_path, NO_VIRT, pvm=False, device=True)
    assert probes.kvm_verdict(info, dev, sysmod) == probes.KvmVerdict(
        False, "the CPU shows neither vmx nor svm")


def test_kvm_needs_a_device_that_opens(tmp_path: Path) -> None:
    info, dev, sysmod = machine_files(tmp_path, INTEL_AMX, pvm=False, device=False)
    verdict = probes.kvm_verdict(info, dev, sysmod)
    assert not verdict.usable
    assert str(dev) in verdict.reason


def test_cpu_flags_come_from_the_first_processor() -> None:
    assert probes.cpu_flags(INTEL_AMX) == {"fpu", "sse2", "avx", "avx512f", "amx_tile", "vmx"}
    assert probes.cpu_flags("processor : 0\n") == set()


def test_the_host_xsave_area_is_measured_by_ptrace() -> None:
    size = probes.xsave_bytes()
    # x86-64 with XSAVE: at least the legacy area and the header, in 64-byte steps; AMX: 11008.
    assert size == 0 or (size >= 576 and size % 64 == 0)


@pytest.mark.parametrize(
    ("size", "shim"), [(0, False), (832, False), (2432, False), (2696, False), (11008, True)]
)
def test_uml_needs_the_shim_only_above_its_own_2696_bytes(size: int, shim: bool) -> None:
    assert probes.needs_xstate_shim(size) is shim


def test_plain_uml_when_the_xsave_area_fits_and_it_boots() -> None:
    m = FakeMachine(832, boots={"uml", "uml-xstate", "qemu-tcg"})
    assert choose.choose(None, m).runner == "uml"
    assert m.probed == ["uml"]


def test_the_shim_on_an_amx_host() -> None:
    m = FakeMachine(11008, boots={"uml-xstate"})
    c = choose.choose(None, m)
    assert c.runner == "uml-xstate"
    assert "11008" in c.reason
    assert m.probed == ["uml-xstate"]  # plain UML is not even tried: it cannot restore FP state


def test_kvm_only_when_usable_and_it_boots() -> None:
    m = FakeMachine(11008, kvm_ok=True, boots={"qemu-kvm"})
    assert choose.choose(None, m).runner == "qemu-kvm"
    assert m.probed == ["uml-xstate", "qemu-kvm"]


def test_tcg_when_nothing_else_boots_with_every_reason() -> None:
    m = FakeMachine(11008, kvm_ok=True)
    c = choose.choose(None, m)
    assert c.runner == "qemu-tcg"
    assert "uml-xstate: it panicked" in c.reason
    assert "qemu-kvm: it panicked" in c.reason


def test_tcg_without_usable_kvm_is_not_probed_for_kvm() -> None:
    m = FakeMachine(832)
    c = choose.choose(None, m)
    assert c.runner == "qemu-tcg"
    assert m.probed == ["uml"]
    assert "qemu-kvm: no vmx or svm" in c.reason


@pytest.mark.parametrize("runner", boot.RUNNERS)
def test_a_forced_runner_is_taken_without_probing(runner: str) -> None:
    m = FakeMachine(11008, kvm_ok=True)
    c = choose.choose(runner, m)
    assert c == choose.Choice(runner, "forced by VDSM_NET_TIER_RUNNER")
    assert m.probed == []


def test_forcing_kvm_where_it_is_unusable_fails() -> None:
    with pytest.raises(choose.ChoiceError, match="KVM is not usable: no vmx or svm"):
        choose.choose("qemu-kvm", FakeMachine(832))


def test_forcing_an_unknown_runner_fails() -> None:
    with pytest.raises(choose.ChoiceError, match="'docker' is not a runner"):
        choose.choose("docker", FakeMachine(832))


def test_the_variable_forces_the_cached_choice(tmp_path: Path) -> None:
    c = choose.cached_choice(tmp_path, {"VDSM_NET_TIER_RUNNER": "qemu-tcg"})
    assert c.runner == "qemu-tcg"
    assert not (tmp_path / "choice.json").exists()  # nothing probed, nothing remembered


def test_the_fingerprint_changes_with_the_machine(tmp_path: Path) -> None:
    f = tmp_path / "linux.uml"
    f.write_bytes(b"a")
    first = probes.fingerprint(832, (f,))
    assert probes.fingerprint(832, (f,)) == first
    assert probes.fingerprint(11008, (f,)) != first
    f.write_bytes(b"ab")
    assert probes.fingerprint(832, (f,)) != first


def _read_newc(data: bytes) -> dict[str, tuple[int, bytes]]:
    """A plain reader of the newc format: {name: (mode, data)}."""
    out: dict[str, tuple[int, bytes]] = {}
    pos = 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        fields = [int(data[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_at = pos + 110
        name = data[name_at:name_at + namesize - 1].decode()
        body_at = name_at + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, data[body_at:body_at + size])
        pos = body_at + size + (-size % 4)


def test_the_initramfs_archive_reads_back() -> None:
    files = {"init": (0o755, b"#!/bin/sh\n"), "bin/busybox": (0o755, b"\x7fELF" * 3)}
    data = archive = initramfs.archive(files, ["bin", "dev"], {"dev/console": (0o020600, 5, 1)})
    read = _read_newc(data)
    assert read["init"] == (0o100755, b"#!/bin/sh\n")
    assert read["bin/busybox"] == (0o100755, b"\x7fELF" * 3)
    assert read["bin"][0] == 0o040755
    assert read["dev/console"][0] == 0o020600
    assert len(archive) % 4 == 0


def test_the_initramfs_init_mounts_9p_and_switches_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"bb")
    kroot = tmp_path / "k"
    os.makedirs(kroot)
    monkeypatch.setattr(initramfs, "module_files", lambda _k, _v: [])
    img = initramfs.build(tmp_path, kroot, "6.1.0-test", busybox)
    read = _read_newc(gzip.decompress(img.read_bytes()))
    init = read["init"][1].decode()
    assert "mount -t 9p -o trans=virtio" in init
    assert 'exec switch_root /newroot "$init"' in init
    assert read["bin/busybox"][1] == b"bb"


def test_what_an_amx_machine_without_kvm_allows_needs_no_boot() -> None:
    m = FakeMachine(11008)
    allowed = dict(choose.allowed(m))
    assert allowed["uml"] == "the host's XSAVE area is 11008 bytes, UML's 2696"
    assert allowed["uml-xstate"] is None and allowed["qemu-tcg"] is None
    assert allowed["qemu-kvm"] == "no vmx or svm"
    assert m.probed == []


def test_a_machine_that_fits_uml_and_has_kvm_allows_every_runner() -> None:
    assert dict(choose.allowed(FakeMachine(832, kvm_ok=True))) == dict.fromkeys(boot.RUNNERS)
