"""Boot a full Linux guest with one runner: its root is the host's /, its PID 1 is a given init
script, its console is our stdout, and it ends when the init powers off (or the time is up).

Runners:
- `uml`: Debian's linux.uml, host filesystem as root (hostfs).
- `uml-xstate`: the same under the ptrace shim (hosts whose XSAVE area is larger than UML's).
- `qemu-kvm`, `qemu-tcg`: the Debian kernel under QEMU (KVM or pure emulation), the host's / over
  virtio-9p from a small initramfs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.uml import assets

RUNNERS = ("uml", "uml-xstate", "qemu-kvm", "qemu-tcg")


def memory() -> str:
    """Guest memory: TIER_MEM, else UML_MEM (the old name), else 1536M."""
    return os.environ.get("TIER_MEM") or os.environ.get("UML_MEM") or "1536M"


def uml_argv(init: Path, mem: str) -> list[str]:
    return [
        assets.UML_KERNEL, f"mem={mem}", "root=/dev/root", "rootfstype=hostfs", "rootflags=/",
        "rw", "quiet", "loglevel=2", f"init={init}", "con=null", "con0=null,fd:1", "ssl=null",
    ]


def qemu_argv(qa: assets.QemuAssets, accel: str, init: Path, mem: str) -> list[str]:
    cpu = "host" if accel == "kvm" else "max"
    return [
        assets.QEMU, "-accel", accel, "-cpu", cpu, "-m", mem.removesuffix("B"), "-smp", "2",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0",
        "-kernel", str(qa.kernel), "-initrd", str(qa.initrd),
        "-append", f"console=ttyS0 quiet loglevel=2 panic=-1 tier_init={init}",
        "-fsdev", "local,id=hostroot,path=/,security_model=passthrough,multidevs=remap",
        "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
    ]


def command(runner: str, init: Path, cache: Path) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that boot `runner` with `init` as PID 1."""
    env = dict(os.environ)
    mem = memory()
    if runner == "uml":
        assets.check_uml()
        return uml_argv(init, mem), env
    if runner == "uml-xstate":
        env["LD_PRELOAD"] = str(assets.xstate_shim(cache))
        return uml_argv(init, mem), env
    if runner in ("qemu-kvm", "qemu-tcg"):
        qa = assets.qemu_assets(cache)
        return qemu_argv(qa, "kvm" if runner == "qemu-kvm" else "tcg", init, mem), env
    raise assets.AssetError(f"unknown runner {runner!r} (one of {', '.join(RUNNERS)})")


def modroot(runner: str, cache: Path, work: Path) -> Path:
    """A directory D such that `modprobe -d D` finds the guest kernel's modules."""
    if runner.startswith("uml"):
        d = work / "mods"
        (d / "lib").mkdir(parents=True, exist_ok=True)
        link = d / "lib" / "modules"
        if not link.exists():
            link.symlink_to(assets.UML_MODULES)
        return d
    return assets.qemu_assets(cache).modroot


def _pump(src: subprocess.Popen[bytes], quiet: bool) -> None:
    assert src.stdout is not None
    for raw in src.stdout:
        if not quiet:
            sys.stdout.write(raw.decode("utf-8", "replace").replace("\r", ""))
            sys.stdout.flush()


def boot(runner: str, init: Path, cache: Path, timeout: float, quiet: bool = False) -> int:
    """Run the guest to its end; its exit code (124 on timeout). The console goes to stdout
    (nowhere when quiet)."""
    argv, env = command(runner, init, cache)
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    pump = threading.Thread(target=_pump, args=(proc, quiet), daemon=True)
    pump.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()
        rc = 124
    except BaseException:
        os.killpg(proc.pid, 9)
        proc.wait()
        raise
    else:  # UML leaves helper processes in its group: end them with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
    pump.join(timeout=5)
    return rc
