"""vdsm's error codes, and the one exception type the engine raises for them."""

from __future__ import annotations

ERR_LOST_CONNECTION = 10
ERR_BAD_PARAMS = 21
ERR_BAD_ADDR = 22
ERR_BAD_NIC = 23
ERR_USED_NIC = 24
ERR_BAD_BONDING = 25
ERR_BAD_VLAN = 26
ERR_BAD_BRIDGE = 27
ERR_USED_BOND = 31
ERR_UNAVAILABLE = 40
ERR_HOOK = 78
ERR_RECOVERY = 99


class NetworkError(Exception):
    """A ConfigNetworkError in vdsm's terms: a code from the table above and a message.

    On the wire it becomes a JSON-RPC error with exactly this code and message.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"NetworkError({self.code}, {self.message!r})"


class KernelError(Exception):
    """A backend failed to apply one op. Names the op and the object."""

    def __init__(self, op: str, message: str) -> None:
        super().__init__(f"{op}: {message}")
        self.op = op
        self.message = message
