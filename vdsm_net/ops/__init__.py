"""Running it as a service: systemd notify, logs, metrics, signals."""
