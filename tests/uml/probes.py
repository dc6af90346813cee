"""Facts about this machine that decide which guest runner can boot a full kernel here.

Each probe reads files or asks the kernel directly; the paths are parameters so the unit tier can
feed hand-written machines.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The buffer Debian's linux.uml 6.1um4 hands to PTRACE_GETREGSET/SETREGSET NT_X86_XSTATE, fixed
# when it was built (iov_len 0xa88: the Intel AVX-512 + PKRU layout), whatever the host's size.
UML_XSTATE_BYTES = 2696

_PTRACE_TRACEME = 0
_PTRACE_KILL = 8
PTRACE_GETREGSET = 0x4204
PTRACE_SETREGSET = 0x4205
_NT_X86_XSTATE = 0x202
_PROBE_BUFFER = 64 * 1024


class _Iovec(ctypes.Structure):
    _fields_ = (("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t))


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)  # ptrace() as the process sees it (LD_PRELOAD too)
    libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    libc.ptrace.restype = ctypes.c_long
    return libc


@contextlib.contextmanager
def stopped_child() -> Iterator[int]:
    """The pid of a child that is traced by us and stopped (killed on leaving)."""
    libc = _libc()
    pid = os.fork()
    if pid == 0:  # the child: be traced, stop, and die with the parent's PTRACE_KILL
        try:
            libc.ptrace(_PTRACE_TRACEME, 0, None, None)
            os.kill(os.getpid(), signal.SIGSTOP)
        finally:
            os._exit(0)
    try:
        os.waitpid(pid, os.WUNTRACED)
        yield pid
    finally:
        libc.ptrace(_PTRACE_KILL, pid, None, None)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def xstate_regset(request: int, pid: int, buf: ctypes.Array[ctypes.c_char]) -> tuple[int, int]:
    """PTRACE_GETREGSET or _SETREGSET NT_X86_XSTATE with all of `buf`: (0 or errno, the length
    the kernel left in the iovec)."""
    iov = _Iovec(ctypes.cast(buf, ctypes.c_void_p), len(buf))
    libc = _libc()
    if libc.ptrace(request, pid, _NT_X86_XSTATE, ctypes.byref(iov)) != 0:
        return ctypes.get_errno(), 0
    return 0, int(iov.iov_len)


def xsave_bytes() -> int:
    """The size of the host's XSAVE area as ptrace hands it out (PTRACE_GETREGSET NT_X86_XSTATE
    on a stopped child), which is the only size the host accepts back with SETREGSET."""
    with stopped_child() as pid:
        err, size = xstate_regset(PTRACE_GETREGSET, pid, ctypes.create_string_buffer(_PROBE_BUFFER))
    if err in (errno.EIO, errno.EINVAL, errno.ENODEV):
        return 0  # no XSAVE at all: UML falls back to the FXSAVE path
    if err:
        raise OSError(err, f"ptrace GETREGSET NT_X86_XSTATE: {os.strerror(err)}")
    return size


def needs_xstate_shim(host_xsave: int) -> bool:
    """UML 6.1 restores FP state with its own 2696-byte buffer. The host reads its own size from
    a buffer at least that large (AVX2: 832, AMD AVX-512: 2432), but refuses a smaller one with
    EFAULT, so on a host with a larger XSAVE area (AMX: 11008) UML panics at boot."""
    return host_xsave > UML_XSTATE_BYTES


@dataclass(frozen=True)
class KvmVerdict:
    usable: bool
    reason: str


def cpu_flags(cpuinfo: str) -> set[str]:
    """The flags of the first processor in /proc/cpuinfo's text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def kvm_verdict(
    cpuinfo: Path = Path("/proc/cpuinfo"),
    device: Path = Path("/dev/kvm"),
    sys_module: Path = Path("/sys/module"),
) -> KvmVerdict:
    """KVM is usable only if /dev/kvm opens, the CPU shows vmx or svm, and the device is not
    PVM's (kvm_pvm: /dev/kvm exists but a stock kernel hangs or dies under it)."""
    if (sys_module / "kvm_pvm").exists():
        return KvmVerdict(False, "/dev/kvm is kvm_pvm's (PVM), which cannot run a stock kernel")
    try:
        flags = cpu_flags(cpuinfo.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        return KvmVerdict(False, f"cannot read {cpuinfo}: {exc.strerror}")
    if not flags & {"vmx", "svm"}:
        return KvmVerdict(False, "the CPU shows neither vmx nor svm")
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return KvmVerdict(False, f"cannot open {device}: {exc.strerror}")
    os.close(fd)
    return KvmVerdict(True, f"{device} opens and the CPU has {'vmx' if 'vmx' in flags else 'svm'}")


def fingerprint(
    host_xsave: int, files: tuple[Path, ...], cpuinfo: Path = Path("/proc/cpuinfo")
) -> str:
    """What a cached runner choice depends on: the CPU's flags, the XSAVE size, the host kernel
    and the guest kernels' files (a new package or another machine means a new probe)."""
    h = hashlib.sha256()
    try:
        h.update(" ".join(sorted(cpu_flags(cpuinfo.read_text(encoding="utf-8")))).encode())
    except OSError:
        h.update(b"no-cpuinfo")
    h.update(f"{host_xsave} {os.uname().release}".encode())
    for f in files:
        try:
            st = f.stat()
            h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
        except OSError:
            h.update(f"{f}:absent".encode())
    return h.hexdigest()[:16]
