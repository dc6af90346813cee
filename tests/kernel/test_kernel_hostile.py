"""Issue 12 on the netlink backend itself: the loopback is observed as a hidden name (so no
network can take it, row 3), and every network name the ownership tag accepts comes back exactly
from the real kernel's ifalias after a restart (row 7), non-ASCII bytes included."""

from __future__ import annotations

from typing import Any

import pytest

from vdsm_net.backends.netlink.backend import NetlinkBackend
from vdsm_net.engine.adopt import adopt
from vdsm_net.engine.engine import Engine
from vdsm_net.model.errors import ERR_BAD_BRIDGE, NetworkError

NOCHK = {"connectivityCheck": False}
ODD_NAMES = ("a b", "n\u00e9t-\u00fc", "x:y", "t" * 200)


def test_the_loopback_is_a_hidden_name_and_no_network_takes_it(backend: NetlinkBackend) -> None:
    state = backend.observe()
    assert "lo" in state.hidden and "lo" not in state.links
    assert not state.hidden & set(state.links)
    engine = Engine(backend)
    before, writes = backend.observe(), backend.writes
    with pytest.raises(NetworkError) as err:
        engine.setup({"lo": {"nic": "dummy_0"}}, {}, NOCHK)
    assert err.value.code == ERR_BAD_BRIDGE
    assert backend.observe() == before and backend.writes == writes


def test_odd_names_come_back_exactly_from_the_kernel_tags(backend: NetlinkBackend) -> None:
    engine = Engine(backend)
    nics = ("dummy_0", "dummy_1", "dummy_2", "veth_0")
    nets: dict[str, Any] = {name: {"nic": nic, "bridged": "false"}
                            for name, nic in zip(ODD_NAMES, nics, strict=True)}
    engine.setup(nets, {}, NOCHK)
    assert set(adopt(backend.observe()).networks) == set(ODD_NAMES)
    restarted = Engine(backend, running=adopt(backend.observe()))
    assert restarted.plan(nets, {}, NOCHK) == []
    restarted.setup({name: {"remove": "true"} for name in ODD_NAMES}, {}, NOCHK)
    assert adopt(backend.observe()).networks == {}
