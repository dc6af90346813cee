"""Drift: the monitor that watches the kernel against the running config, and its policy."""
