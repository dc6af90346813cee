"""The one deterministic algorithm: canonicalize, validate, merge, render, plan, apply, verify."""
