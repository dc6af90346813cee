"""Test code that more than one tier uses: the parity scenarios and their runner."""
