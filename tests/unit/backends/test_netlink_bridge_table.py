"""The bridge options' one netlink table: it covers exactly the options the agent accepts, and
what the encoder writes for each the decoder reads back (no kernel needed: bytes only)."""

from __future__ import annotations

import pytest

from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.backends.netlink.rtnl import encode as enc
from vdsm_net.backends.netlink.rtnl.links import bridge_options
from vdsm_net.model.bridgeopts import BRIDGE_DEFAULTS

_NOT_DEFAULT = {"group_addr": "01:80:c2:00:00:0e", "vlan_protocol": "34984"}


def _other_value(option: str) -> str:
    """A valid value that differs from the kernel default (time options by more than the 1 cs
    that reads as the default)."""
    if option in _NOT_DEFAULT:
        return _NOT_DEFAULT[option]
    default = int(BRIDGE_DEFAULTS[option])
    if option.endswith(("_interval", "_time", "_delay", "max_age")):
        return str(default - 50)
    return str(default + 1 if option.endswith(("_version", "_router")) or default == 0
               else default - 1)


def test_the_table_names_every_accepted_option_but_the_boolopt_bit() -> None:
    assert set(c.BRIDGE_OPTIONS) | {"no_linklocal_learn"} == set(BRIDGE_DEFAULTS)
    assert len({number for _, number, _ in c.BRIDGE_OPTIONS.values()}) == len(c.BRIDGE_OPTIONS)


@pytest.mark.parametrize("option", sorted(BRIDGE_DEFAULTS))
def test_an_encoded_option_decodes_to_itself(option: str) -> None:
    value = _other_value(option)
    nested = enc.bridge_data(True, ((option, value),))
    payload = nested[4:]  # the nested IFLA_INFO_DATA attribute's payload
    assert bridge_options(payload) == (True, ((option, value),))
