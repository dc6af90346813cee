"""The backend port on the real kernel: our rtnetlink codec, sysfs, the event monitor."""
