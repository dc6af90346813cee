"""The tier boots a full kernel: bonding, 8021q and dummy are there."""

from pathlib import Path


def test_kernel_has_the_modules() -> None:
    modules = Path("/proc/modules").read_text()
    for name in ("bonding", "8021q", "dummy", "bridge", "veth"):
        assert name in modules
