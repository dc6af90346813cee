"""What each guest runner needs on the host, installed or built once and cached.

- uml: Debian's `linux.uml` and its modules (the Makefile's apt list installs them).
- uml-xstate: the same, plus `xstate_shim.so` built with gcc from `xstate_shim.c`.
- qemu-kvm / qemu-tcg: `qemu-system-x86` (apt, without recommends), the Debian kernel package
  that `linux-image-amd64` currently depends on (`apt-get download` + `dpkg -x`, never installed
  into /boot), busybox-static the same way (installing it would remove `busybox`), and an initramfs
  that mounts the host's / over virtio-9p and switch_roots into the tier's init.

Everything lands in the cache directory (`.cache/guest` in the repository, ignored by git); a
second run fetches nothing. Installing needs root; without it a missing piece is a clear failure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.uml import initramfs

HERE = Path(__file__).resolve().parent
UML_KERNEL = "linux.uml"
UML_MODULES = Path("/usr/lib/uml/modules")
QEMU = "qemu-system-x86_64"


class AssetError(Exception):
    """A runner's part is missing and cannot be installed here."""


@dataclass(frozen=True)
class QemuAssets:
    kernel: Path  # vmlinuz
    initrd: Path
    modroot: Path  # a directory with lib/modules/<version> for modprobe -d


def _run(argv: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise AssetError(f"{' '.join(argv)}: {(done.stderr or done.stdout).strip()[-400:]}")
    return done.stdout


def _is_root() -> bool:
    return os.geteuid() == 0


def _apt_install(package: str, command: str) -> None:
    if shutil.which(command):
        return
    if not _is_root():
        raise AssetError(f"{command} is missing: install {package} (make test does it as root)")
    env_cmd = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq",
               "--no-install-recommends", package]
    try:
        _run(env_cmd)
    except AssetError:
        _run(["apt-get", "update", "-qq"])
        _run(env_cmd)
    if not shutil.which(command):
        raise AssetError(f"{package} installed but {command} is still not on PATH")


def check_uml() -> None:
    if not shutil.which(UML_KERNEL):
        raise AssetError(f"{UML_KERNEL} not found (apt-get install user-mode-linux)")
    if not UML_MODULES.is_dir():
        raise AssetError(f"no UML modules in {UML_MODULES} (apt-get install user-mode-linux)")


def xstate_shim(cache: Path) -> Path:
    """The ptrace shim, rebuilt when its source changes."""
    check_uml()
    source = HERE / "xstate_shim.c"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]
    out = cache / f"xstate_shim-{digest}.so"
    if out.exists():
        return out
    _apt_install("gcc", "gcc")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    compile_shim(tmp)
    tmp.rename(out)
    return out


def compile_shim(out: Path) -> None:
    """gcc builds xstate_shim.c into the shared object `out`."""
    _run(["gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(out),
          str(HERE / "xstate_shim.c"), "-ldl"])


def _depends_of(meta: str) -> str | None:
    """The linux-image-<version> package that a meta package depends on now."""
    try:
        out = _run(["apt-cache", "depends", meta])
    except AssetError:
        return None
    for line in out.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Depends" and value.strip().startswith("linux-image-"):
            return value.strip()
    return None


def _download(package: str, dest: Path) -> None:
    """apt-get download PACKAGE and unpack it into dest (marked complete with .done)."""
    with tempfile.TemporaryDirectory(prefix="vdsm-net-apt-") as tmp:
        try:
            _run(["apt-get", "download", "-qq", package], cwd=Path(tmp))
        except AssetError:
            if not _is_root():
                raise
            _run(["apt-get", "update", "-qq"])
            _run(["apt-get", "download", "-qq", package], cwd=Path(tmp))
        debs = sorted(Path(tmp).glob("*.deb"))
        if not debs:
            raise AssetError(f"apt-get download {package} fetched no .deb")
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        _run(["dpkg", "-x", str(debs[0]), str(partial)])
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    (dest / ".done").touch()


def _cached(cache: Path, prefix: str) -> list[Path]:
    return sorted(p.parent for p in cache.glob(f"{prefix}*/.done"))


def debian_kernel(cache: Path) -> Path:
    """The unpacked Debian kernel package (linux-image-amd64's current dependency); offline, the
    newest one already cached."""
    package = _depends_of("linux-image-amd64")
    if package is None and _is_root():
        _run(["apt-get", "update", "-qq"])
        package = _depends_of("linux-image-amd64")
    if package is None:
        cached = _cached(cache, "linux-image-")
        if cached:
            return cached[-1]
        raise AssetError("cannot resolve linux-image-amd64's kernel package (apt-get update?)")
    dest = cache / package
    if not (dest / ".done").exists():
        _download(package, dest)
        version = package.removeprefix("linux-image-")
        _run(["depmod", "-b", str(dest), version])
    return dest


def static_busybox(cache: Path) -> Path:
    dest = cache / "busybox-static"
    if not (dest / ".done").exists():
        _download("busybox-static", dest)
    binary = dest / "bin" / "busybox"
    if not binary.exists():
        raise AssetError(f"busybox-static has no {binary}")
    return binary


def qemu_assets(cache: Path) -> QemuAssets:
    _apt_install("qemu-system-x86", QEMU)
    _apt_install("kmod", "depmod")
    kroot = debian_kernel(cache)
    versions = sorted(p.name for p in (kroot / "lib" / "modules").iterdir())
    if not versions:
        raise AssetError(f"{kroot} has no lib/modules")
    version = versions[-1]
    kernel = kroot / "boot" / f"vmlinuz-{version}"
    initrd = initramfs.build(cache, kroot, version, static_busybox(cache))
    return QemuAssets(kernel=kernel, initrd=initrd, modroot=kroot)
