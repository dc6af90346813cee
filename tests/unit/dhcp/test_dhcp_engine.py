"""Engine.setup's ``on_applied`` step and the revert around dynamic addressing, on the simulated
kernel: the step runs after the kernel converged and before the connectivity check; a failed
check restores the previous config's clients and reverts the kernel without touching a lease."""

from __future__ import annotations

from typing import Any

import pytest

from vdsm_net.backends.memory.kernel import MemoryKernel
from vdsm_net.engine.engine import Engine
from vdsm_net.engine.plan.planner import diff
from vdsm_net.engine.render import render
from vdsm_net.model.desired import RunningConfig
from vdsm_net.model.errors import ERR_LOST_CONNECTION, NetworkError
from vdsm_net.model.kernel import Address
from vdsm_net.model.ops import DelAddress, DelRule

NOCHK = {"connectivityCheck": "false"}
CHECK = {"connectivityCheck": "true", "connectivityTimeout": 0}
DHCP = {"nic": "eth0", "bridged": "false", "bootproto": "dhcp", "defaultRoute": True}
STATIC = {"nic": "eth0", "bridged": "false", "ipaddr": "10.0.0.2", "prefix": "24",
          "defaultRoute": True}
LEASE = Address("eth0", "192.0.2.50/24")


def world() -> tuple[Engine, MemoryKernel]:
    kernel = MemoryKernel(nics=["eth0", "eth1"])
    return Engine(kernel), kernel


def never(_since: float, _timeout: float) -> bool:
    return False


def test_on_applied_runs_after_converge_and_before_the_check() -> None:
    engine, kernel = world()
    events: list[str] = []

    def on_applied(config: RunningConfig) -> None:
        assert kernel.observe().links["eth0"].mtu == 9000  # the kernel already converged
        events.append(f"applied {sorted(config.networks)}")

    def confirm(_since: float, _timeout: float) -> bool:
        events.append("check")
        return True

    engine.setup({"mgmt": {**DHCP, "mtu": 9000}}, {}, CHECK, confirm=confirm,
                 on_applied=on_applied)
    assert events == ["applied ['mgmt']", "check"]
    assert engine.running.networks["mgmt"].bootproto == "dhcp"


def test_failed_check_calls_on_applied_again_with_the_previous_config() -> None:
    engine, _ = world()
    engine.setup({"old": STATIC}, {}, NOCHK)
    previous = engine.running
    seen: list[RunningConfig] = []
    with pytest.raises(NetworkError) as err:
        engine.setup({"old": {"remove": True}, "new": {**DHCP, "nic": "eth1"}}, {}, CHECK,
                     confirm=never, on_applied=seen.append)
    assert err.value.code == ERR_LOST_CONNECTION
    assert [sorted(c.networks) for c in seen] == [["new"], ["old"]]
    assert seen[1] is previous and engine.running is previous


def test_an_on_applied_failure_on_restore_does_not_hide_the_error() -> None:
    engine, kernel = world()
    before = kernel.observe()
    calls: list[int] = []

    def on_applied(config: RunningConfig) -> None:
        calls.append(len(config.networks))
        if len(calls) == 2:
            raise RuntimeError("client restore failed")

    with pytest.raises(NetworkError):
        engine.setup({"mgmt": DHCP}, {}, CHECK, confirm=never, on_applied=on_applied)
    assert calls == [1, 0]
    assert kernel.observe() == before


def test_revert_keeps_a_lease_that_arrived_during_the_call() -> None:
    """A DHCP network whose MTU edit fails its check: the lease its client got meanwhile stays,
    the MTU goes back."""
    engine, kernel = world()
    engine.setup({"mgmt": DHCP}, {}, NOCHK)

    def lease_arrives(_config: RunningConfig) -> None:
        kernel.add_address(LEASE)

    with pytest.raises(NetworkError):
        engine.setup({"mgmt": {**DHCP, "mtu": 9000}}, {}, CHECK, confirm=never,
                     on_applied=lease_arrives)
    state = kernel.observe()
    assert state.links["eth0"].mtu == 1500
    assert state.addresses_of("eth0") == [LEASE]


def test_revert_of_a_static_to_dhcp_switch_restores_the_static_address() -> None:
    """The plan of the switch writes nothing (the family becomes the client's), the client
    flushes the static address; the revert still looks at the link and puts it back."""
    engine, kernel = world()
    engine.setup({"mgmt": STATIC}, {}, NOCHK)
    static = Address("eth0", "10.0.0.2/24")
    assert kernel.observe().addresses_of("eth0") == [static]

    def client_flushes(config: RunningConfig) -> None:
        if config.networks["mgmt"].bootproto == "dhcp":
            kernel.apply(DelAddress(static))

    with pytest.raises(NetworkError):
        engine.setup({"mgmt": DHCP}, {}, CHECK, confirm=never, on_applied=client_flushes)
    assert kernel.observe().addresses_of("eth0") == [static]
    assert engine.running.networks["mgmt"].bootproto == "none"


def test_switch_static_to_dhcp_with_a_check_succeeds_when_the_client_confirms() -> None:
    """The management network goes static -> DHCP with connectivityCheck on: the client comes
    back over the lease, which only exists because the clients started before the check."""
    engine, kernel = world()
    engine.setup({"mgmt": STATIC}, {}, NOCHK)
    confirmed: list[float] = []

    def start_clients(config: RunningConfig) -> None:
        if config.networks["mgmt"].bootproto == "dhcp":
            kernel.apply(DelAddress(Address("eth0", "10.0.0.2/24")))
            kernel.add_address(LEASE)
            confirmed.append(1e18)  # the engine's client reaches us over the lease

    def confirm(since: float, _timeout: float) -> bool:
        return any(t > since for t in confirmed)

    engine.setup({"mgmt": DHCP}, {}, CHECK, confirm=confirm, on_applied=start_clients)
    assert engine.running.networks["mgmt"].bootproto == "dhcp"
    assert kernel.observe().addresses_of("eth0") == [LEASE]


def _autoconf(**extra: Any) -> dict[str, Any]:
    return {"nic": "eth1", "bridged": "false", "ipv6autoconf": True, **extra}


def test_static_ipv6addr_removed_from_an_autoconf_network_goes_away() -> None:
    engine, kernel = world()
    engine.setup({"v6": _autoconf(ipv6addr="2001:db8:9::5/64")}, {}, NOCHK)
    slaac = Address("eth1", "2001:db8:1::5054:ff:fe00:1/64", dynamic=True)
    kernel.add_address(slaac)
    engine.setup({"v6": _autoconf()}, {}, NOCHK)
    assert kernel.observe().addresses_of("eth1") == [slaac]
    observed = kernel.observe()
    assert diff(render(engine.running, observed), observed) == []


def test_planned_objects_a_released_lease_took_along_are_put_back() -> None:
    """DHCP -> static on the same subnet: the released lease's hook deletes the source rules
    the static config shares with it, after the plan ran; the engine converges again."""
    engine, kernel = world()
    static = {"nic": "eth1", "bridged": "false", "ipaddr": "198.51.100.7", "prefix": "24",
              "gateway": "198.51.100.1"}

    def release_takes_rules(config: RunningConfig) -> None:
        for rule in kernel.observe().rules:
            kernel.apply(DelRule(rule))

    engine.setup({"data": static}, {}, NOCHK, on_applied=release_takes_rules)
    state = kernel.observe()
    assert len(state.rules) == 2
    assert diff(render(engine.running, state), state) == []


class CountingKernel(MemoryKernel):
    """Counts observations: what the engine's look after ``on_applied`` costs."""

    observes = 0

    def observe(self, stats: bool = True) -> Any:
        self.observes += 1
        return super().observe(stats)


@pytest.mark.parametrize(("said", "looks"), [(False, 0), (True, 1), (None, 1)])
def test_the_engine_looks_again_unless_on_applied_says_it_touched_nothing(
    said: bool | None, looks: int
) -> None:
    kernel = CountingKernel(nics=["eth0", "eth1"])
    engine = Engine(kernel)
    engine.setup({"data": STATIC}, {}, NOCHK)
    before = kernel.observes
    engine.setup({"data": STATIC}, {}, NOCHK, on_applied=lambda _config: said)  # re-apply
    assert kernel.observes - before == 1 + looks  # the plan's observation, then the look


@pytest.mark.parametrize(("said", "rules"), [(True, 2), (False, 0)])
def test_a_rule_taken_is_put_back_when_on_applied_says_it_touched_the_kernel(
    said: bool, rules: int
) -> None:
    """The look is what repairs a released lease's damage; an on_applied that says it touched
    nothing is believed (a sysctl pass cannot delete a rule)."""
    engine, kernel = world()
    static = {"nic": "eth1", "bridged": "false", "ipaddr": "198.51.100.7", "prefix": "24",
              "gateway": "198.51.100.1"}

    def release_takes_rules(config: RunningConfig) -> bool:
        for rule in kernel.observe().rules:
            kernel.apply(DelRule(rule))
        return said

    engine.setup({"data": static}, {}, NOCHK, on_applied=release_takes_rules)
    assert len(kernel.observe().rules) == rules
