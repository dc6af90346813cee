"""The runner smoke tier runs only inside the test guest (tests/uml/run-tier.sh tests/guest)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _inside_guest() -> None:
    """A failure, not a skip, when run elsewhere: these tests change the kernel's network."""
    if os.environ.get("VDSM_NET_UML") != "1":
        pytest.fail("the guest smoke tier runs inside the guest: tests/uml/run-tier.sh tests/guest")
