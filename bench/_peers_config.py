"""What the peer tools of bench_peers.py are given for the benchmark's workload
(bench/_kernel_work.py: N VLAN+bridge networks with an IPv4 address over one 802.3ad bond of two
dummies): an ifupdown2 interfaces file, the nmcli commands, and the configuration files that keep
ifupdown2, NetworkManager and their own dbus-daemon inside a work directory."""

from __future__ import annotations

from pathlib import Path

from bench._kernel_work import BOND, SLAVES, address


def interfaces_file(n: int) -> str:
    """ifupdown2's interfaces(5) for the workload; the dummies exist before (fresh_netns)."""
    parts = [f"auto {BOND}\niface {BOND}\n    bond-slaves {' '.join(SLAVES)}\n"
             "    bond-mode 802.3ad\n    bond-miimon 100\n"]
    for i in range(n):
        parts.append(f"auto {BOND}.{i + 1}\niface {BOND}.{i + 1}\n")
        parts.append(f"auto net{i}\niface net{i}\n    bridge-ports {BOND}.{i + 1}\n"
                     "    bridge-stp off\n    bridge-fd 0\n    bridge-waitport 0\n"
                     f"    address {address(i)}/24\n")
    return "\n".join(parts)


def ifupdown2_conf(state_dir: Path) -> str:
    """ifupdown2.conf: Debian's defaults that matter, state under ``state_dir``, no templates."""
    return ("use_daemon=no\ntemplate_enable=0\ndisable_cli_interfacesfile=0\n"
            "addon_scripts_support=0\naddon_python_modules_support=1\nlink_master_slave=1\n"
            "delay_admin_state_change=0\nadjust_logical_dev_mtu=1\n"
            f"default_interfaces_configfile={state_dir}/interfaces\nstate_dir={state_dir}/\n")


def nmcli_commands(n: int) -> list[list[str]]:
    """One ``nmcli connection add`` per connection: the bond, its two dummy ports, then per
    network a bridge with the address and a VLAN on the bond as the bridge's port."""
    cmds = [["connection", "add", "type", "bond", "con-name", BOND, "ifname", BOND,
             "bond.options", "mode=802.3ad,miimon=100",
             "ipv4.method", "disabled", "ipv6.method", "disabled"]]
    cmds += [["connection", "add", "type", "dummy", "con-name", s, "ifname", s,
              "master", BOND, "slave-type", "bond"] for s in SLAVES]
    for i in range(n):
        cmds.append(["connection", "add", "type", "bridge", "con-name", f"net{i}",
                     "ifname", f"net{i}", "bridge.stp", "no", "bridge.forward-delay", "0",
                     "ipv4.method", "manual", "ipv4.addresses", f"{address(i)}/24",
                     "ipv6.method", "disabled"])
        cmds.append(["connection", "add", "type", "vlan", "con-name", f"{BOND}.{i + 1}",
                     "ifname", f"{BOND}.{i + 1}", "dev", BOND, "id", str(i + 1),
                     "master", f"net{i}", "slave-type", "bridge"])
    return cmds


def nmcli_removal(n: int) -> list[list[str]]:
    """One ``nmcli connection delete`` of every connection, in the reverse order."""
    names = [s for s in SLAVES] + [BOND]
    for i in range(n):
        names[:0] = [f"{BOND}.{i + 1}", f"net{i}"]
    return [["connection", "delete", *names]]


def dbus_conf(socket: Path) -> str:
    """A private system bus on ``socket`` that lets root own and call anything, with room for
    thousands of calls in flight."""
    return ('<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
            ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n<busconfig>\n'
            f"  <type>system</type>\n  <listen>unix:path={socket}</listen>\n"
            "  <auth>EXTERNAL</auth>\n"
            # one `nmcli connection delete` of 2N+3 connections sends them all at once
            '  <limit name="max_replies_per_connection">100000</limit>\n'
            '  <limit name="max_connections_per_user">100000</limit>\n'
            "  <policy context=\"default\">\n"
            '    <allow user="*"/>\n    <allow own="*"/>\n'
            '    <allow send_destination="*" eavesdrop="true"/>\n'
            '    <allow eavesdrop="true"/>\n  </policy>\n</busconfig>\n')


def nm_conf(keyfiles: Path) -> str:
    """NetworkManager.conf: keyfiles under ``keyfiles``, no polkit, DNS, hostname or
    auto-connections of its own."""
    return ("[main]\nplugins=keyfile\nauth-polkit=false\ndns=none\nrc-manager=unmanaged\n"
            "hostname-mode=none\nno-auto-default=*\ndhcp=internal\n"
            f"[keyfile]\npath={keyfiles}\n[logging]\nlevel=WARN\n")
