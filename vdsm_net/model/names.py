"""What a name or an address from the wire must be before the agent lets it reach the kernel.

Pure; every function returns why a value is refused ('' when it is fine), so the validator can
put vdsm's code on it. The rules are the kernel's (``dev_valid_name``, IFNAMSIZ, IFALIASZ) made
stricter where the kernel does something surprising with a name it accepts:

- a link name is printable ASCII without whitespace, '/', ':', '%' (the kernel expands ``%d`` into
  a free number, so ``eth%d`` would create ``eth4``), and never '.' or '..'; NUL and other bytes
  the kernel cannot hold are refused rather than truncated;
- a network name also lives in the ownership tag ``vdsm-net:net=NAME`` (the link's ifalias, at
  most 255 bytes), whose fields are separated by ',' and '=': a name holding either could be read
  back as another network, so such names are refused;
- a nameserver is one address, with a ``%zone`` only on an IPv6 link-local address and only a
  zone that is an interface name or index (the resolver file is line-based: anything else could
  add lines to it).
"""

from __future__ import annotations

import ipaddress

IFNAMSIZ = 15  # the longest interface name the kernel takes, in bytes
IFALIASZ = 255  # the longest ifalias the kernel takes, in bytes
TAG_SEPARATORS = frozenset(",=")
_LINK_NAME_REFUSED = frozenset("/:%")


def _printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


def link_name_problem(name: str) -> str:
    """Why the kernel must not get ``name`` as a link name ('' when it may)."""
    if not name:
        return "it is empty"
    if not _printable_ascii(name):
        return "it has a character that is not printable ASCII"
    if len(name) > IFNAMSIZ:
        return f"it is longer than {IFNAMSIZ} characters"
    if name in (".", ".."):
        return "it is '.' or '..'"
    bad = sorted(_LINK_NAME_REFUSED.union(" ").intersection(name))
    if bad:
        return f"it contains {''.join(bad)!r}"
    return ""


def tag_name_problem(name: str, room: int) -> str:
    """Why ``name`` cannot be carried by an ownership tag with ``room`` bytes left for it."""
    if not name:
        return "it is empty"
    if not name.isprintable():
        return "it has a control character"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode"
    bad = sorted(TAG_SEPARATORS.intersection(name))
    if bad:
        return f"it contains {''.join(bad)!r}, which the ownership tag uses as separators"
    if size > room:
        return f"it is longer than the {room} bytes the ownership tag can hold"
    return ""


def special_address_problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why ``address`` cannot be a host address or a gateway ('' when it can)."""
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast address"
    return ""


def host_address_problem(
    iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface, default_route: bool
) -> str:
    """Why ``iface`` cannot be a network's address ('' when it can): a special address, an
    IPv4 subnet's broadcast address, or a prefix 0 (a connected route to everything) off the
    default route network."""
    problem = special_address_problem(iface.ip)
    if problem:
        return f"is {problem}"
    network = iface.network
    if iface.version == 4 and network.prefixlen < 31 and iface.ip == network.broadcast_address:
        return "is the broadcast address of its subnet"
    if network.prefixlen == 0 and not default_route:
        return ("has prefix 0, which would route everything through it; only the default "
                "route network may have it")
    return ""


def nameserver_problem(text: str) -> str:
    """Why ``text`` is not one nameserver address ('' when it is)."""
    address, sep, zone = text.partition("%")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if ip.is_multicast or ip.is_unspecified or ip == ipaddress.IPv4Address("255.255.255.255"):
        return "not a unicast address"
    if not sep:
        return ""
    if not (isinstance(ip, ipaddress.IPv6Address) and ip.is_link_local):
        return "a %zone is allowed only on an IPv6 link-local address"
    if not (zone.isdecimal() and zone.isascii()) and link_name_problem(zone):
        return "the %zone is not an interface name or index"
    return ""
