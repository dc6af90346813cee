"""vdsm-net-client beyond one call: help from the verb registry, show, check, completion."""
