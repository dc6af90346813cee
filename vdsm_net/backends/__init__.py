"""Backends behind the port in vdsm_net.backends.base: memory (simulated) and netlink."""
