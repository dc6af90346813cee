"""Addresses and nameservers that the network learns: DHCPv4, DHCPv6, SLAAC, DNS."""
