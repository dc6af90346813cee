"""A small initramfs for the QEMU runners: static busybox, the virtio-9p modules, and an /init
that mounts the host's / over 9p and switch_roots into the tier's init (named on the kernel
command line as tier_init=PATH).

Written as a newc cpio archive by this module (no cpio package needed), gzip-compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
from pathlib import Path

# The modules /init loads, in dependency order (modprobe --show-depends resolves the rest).
BOOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p")
NINEP_OPTIONS = "trans=virtio,version=9p2000.L,msize=512000,cache=loose"

INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
die() { echo "initramfs: FAILURE: $*"; poweroff -f; }
for m in $(cat /modules.list); do insmod "/mods/$m" || die "insmod $m failed"; done
mount -t 9p -o @OPTIONS@ hostroot /newroot || die "cannot mount the host's / over virtio-9p"
init=$(sed -n 's/.*tier_init=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
[ -n "$init" ] || die "no tier_init= on the kernel command line"
[ -x "/newroot$init" ] || die "tier init $init is not executable on the host root"
umount /dev
umount /proc
exec switch_root /newroot "$init"
"""


def _entry(
    name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0), ino: int = 0
) -> bytes:
    """One newc record: a 110-byte ASCII header, the name (NUL-terminated) and the data, each
    padded to four bytes."""
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
    head = b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
    body = head + name.encode() + b"\0"
    body += b"\0" * (-len(body) % 4)
    return body + data + b"\0" * (-len(data) % 4)


def archive(
    files: dict[str, tuple[int, bytes]], dirs: list[str], nodes: dict[str, tuple[int, int, int]]
) -> bytes:
    """A newc archive of directories, regular files {name: (mode, data)} and device nodes
    {name: (mode, major, minor)}."""
    out = bytearray()
    ino = 1
    for d in dirs:
        out += _entry(d, 0o040755, ino=ino)
        ino += 1
    for name, (mode, major, minor) in nodes.items():
        out += _entry(name, mode, rdev=(major, minor), ino=ino)
        ino += 1
    for name, (mode, data) in files.items():
        out += _entry(name, 0o100000 | mode, data, ino=ino)
        ino += 1
    out += _entry("TRAILER!!!", 0)
    return bytes(out)


def module_files(kroot: Path, version: str) -> list[Path]:
    """The .ko files BOOT_MODULES need, dependencies first, each once."""
    seen: list[Path] = []
    for module in BOOT_MODULES:
        done = subprocess.run(
            ["modprobe", "-d", str(kroot), "-S", version, "--show-depends", module],
            capture_output=True, text=True, check=True,
        )
        for line in done.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == "insmod":
                path = Path(parts[1])
                if path not in seen:
                    seen.append(path)
    return seen


def build(cache: Path, kroot: Path, version: str, busybox: Path) -> Path:
    """The initramfs for this kernel, rebuilt when the init, the options or the busybox change."""
    init = INIT.replace("@OPTIONS@", NINEP_OPTIONS).encode()
    key = hashlib.sha256(init + busybox.read_bytes() + version.encode()).hexdigest()[:12]
    out = cache / f"initrd-{version}-{key}.img"
    if out.exists():
        return out
    modules = module_files(kroot, version)
    files: dict[str, tuple[int, bytes]] = {
        "init": (0o755, init),
        "bin/busybox": (0o755, busybox.read_bytes()),
        "modules.list": (0o644, "".join(f"{m.name}\n" for m in modules).encode()),
    }
    for m in modules:
        files[f"mods/{m.name}"] = (0o644, m.read_bytes())
    data = archive(files, ["bin", "dev", "mods", "proc", "sys", "newroot"],
                   {"dev/console": (0o020600, 5, 1)})
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(data, compresslevel=6))
    tmp.rename(out)
    return out
