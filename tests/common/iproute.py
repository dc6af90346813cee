"""iproute2 for the kernel and e2e tiers (inside the guest, in namespaces the tests made)."""

from __future__ import annotations

import subprocess


def ip(*args: str) -> str:
    """Run iproute2; raise with its message on failure."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout
