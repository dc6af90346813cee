"""The host side of the stateless cluster: boot information from the kernel command line, host
identity from hardware, and registration in etcd under a lease (issue 13, items 1-3)."""
