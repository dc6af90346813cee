"""``vdsm-netd fleet``: many simulated hosts in one process (see ``fleet``)."""
