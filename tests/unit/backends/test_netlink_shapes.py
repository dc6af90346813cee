"""shapes.Spec reads what an attribute-by-attribute walk reads, whatever the order of
regions: learned shapes are reused only for regions whose every header matches."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from vdsm_net.backends.netlink.rtnl import codec as c
from vdsm_net.backends.netlink.rtnl.shapes import Spec

FIELDS = [(1, "s"), (2, "I"), (3, "B"), (4, "H"), (5, "Q")]
SIZES = {"I": 4, "B": 1, "H": 2, "Q": 8}


def walk(region: bytes) -> tuple[object, ...]:
    """The reference: every attribute in turn, the last of a type wins."""
    out: list[object] = [None] * len(FIELDS)
    for kind, ps, pe in c.attrs(region, 0, len(region)):
        for i, (k, code) in enumerate(FIELDS):
            if k != kind:
                continue
            payload = region[ps:pe]
            if code == "s":
                out[i] = payload
            elif len(payload) >= SIZES[code]:
                out[i] = struct.unpack_from("=" + code, payload)[0]
            else:
                out[i] = None
    return tuple(out)


attribute = st.tuples(
    st.sampled_from([1, 2, 3, 4, 5, 6, 7, 2 | c.NLA_F_NESTED]),
    st.binary(min_size=0, max_size=12),
)
region = st.lists(attribute, max_size=6).map(
    lambda attrs: b"".join(c.attr(kind, payload) for kind, payload in attrs))


@settings(max_examples=300, deadline=None)
@given(st.lists(region, min_size=1, max_size=12))
def test_spec_reads_what_a_walk_reads(regions: list[bytes]) -> None:
    spec = Spec(FIELDS)
    for blob in regions * 2:  # the second round reads through learned shapes
        assert spec.read(blob, 0, len(blob)) == walk(blob)


def test_same_length_other_headers_is_not_taken_for_a_known_shape() -> None:
    spec = Spec(FIELDS)
    first = c.attr(2, struct.pack("=I", 7)) + c.attr(6, b"abcd")
    second = c.attr(6, b"abcd") + c.attr(2, struct.pack("=I", 9))  # same length, swapped
    assert len(first) == len(second)
    assert spec.read(first, 0, len(first))[1] == 7
    assert spec.read(second, 0, len(second))[1] == 9
    assert spec.read(first, 0, len(first))[1] == 7
    assert spec.learned == 2


def test_a_region_inside_a_bigger_buffer_and_a_repeated_shape_is_learned_once() -> None:
    spec = Spec(FIELDS)
    one = c.attr(1, b"net1\0") + c.attr(3, b"\x06")
    buf = b"\xff" * 8 + one + one.replace(b"net1", b"net2") + b"\xff" * 8
    assert spec.read(buf, 8, 8 + len(one)) == (b"net1\0", None, 6, None, None)
    assert spec.read(buf, 8 + len(one), 8 + 2 * len(one)) == (b"net2\0", None, 6, None, None)
    assert spec.learned == 1
