"""vdsm-net: a stateless host network agent that speaks vdsm's language."""

__version__ = "0.1.0"
