"""The autonomic tests' fixtures: a real etcd member, and a PKI with the engine certificate."""

from tests.unit.autonomic.conftest import etcd, manager_pki

__all__ = ["etcd", "manager_pki"]
