"""LLDP, receive only: frames read on the NICs (``receiver``), decoded into vdsm's TLV shape
(``tlv``) for ``Host.getLldp``."""
