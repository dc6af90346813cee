"""``Host.getLldp(filter: {devices: [...]})``: vdsm's ``{dev: {enabled, tlvs}}`` from the LLDP
receiver (``vdsm_net.lldp``); without a receiver every device is ``enabled: false``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vdsm_net.lldp.receiver import LldpReceiver, disabled_report
from vdsm_net.lldp.tlv import LldpReport
from vdsm_net.model.errors import ERR_BAD_PARAMS, NetworkError

MAX_DEVICES = 4096


def devices_of(filter_: Any) -> list[str] | None:
    """The devices a filter names; None for every NIC (no filter, or no ``devices``)."""
    if filter_ is None:
        return None
    if not isinstance(filter_, dict) or set(filter_) - {"devices"}:
        raise NetworkError(ERR_BAD_PARAMS, "getLldp: filter must be {'devices': [names]}")
    devices = filter_.get("devices")
    if devices is None:
        return None
    if (not isinstance(devices, list) or len(devices) > MAX_DEVICES
            or not all(isinstance(d, str) and 0 < len(d) <= 15 for d in devices)):
        raise NetworkError(ERR_BAD_PARAMS,
                           "getLldp: devices must be a list of interface names")
    return devices or None


def get_lldp(receiver: LldpReceiver | None, nics: Iterable[str], filter_: Any) -> LldpReport:
    devices = devices_of(filter_)
    names = sorted(nics) if devices is None else devices
    if receiver is None:
        return disabled_report(names)
    return receiver.report(names)
