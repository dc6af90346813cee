"""vdsm-net: a stateless host network agent that speaks vdsm's language."""

from setuptools import find_packages, setup

setup(
    name="vdsm-net",
    version="0.1.0",
    description="Stateless host network agent, wire-compatible with vdsm",
    python_requires=">=3.11",
    packages=[*find_packages(include=["vdsm_net", "vdsm_net.*", "rpc", "rpc.*"]), "autonomic"],
    # the manager is its own package (issue 13), kept apart from the agent in contrib/
    package_dir={"autonomic": "contrib/autonomic"},
    install_requires=[
        "cryptography>=38",  # Debian 12 has 38.0.4
        "prometheus-client>=0.16",  # Debian 12 has 0.16.0
        "ovs>=3.1",  # Debian 12 has 3.1.0 (python3-openvswitch)
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "pyroute2>=0.9,<0.10",  # the kernel tests' oracle and the benchmarks' poker
            "pytest-timeout",
            "hypothesis>=6",
            "stomp.py>=8",
            "ruff",
            "mypy",
            "matplotlib>=3.6",  # the bench's plot is type-checked and tested in the unit tier
        ],
        # asyncio etcd v3 (gRPC) client: agent registration and the manager (not in Debian 12)
        "cluster": ["aetcd>=1.0"],
        "ethtool": ["ethtool==0.15"],
        "bench": ["matplotlib>=3.6"],  # bench/results.png (make bench); Debian 12 has 3.6.3
    },
    entry_points={
        "console_scripts": [
            "vdsm-netd=vdsm_net.cli:main",
            "vdsm-net-client=vdsm_net.client.main:main",
            "vdsm-net-pki=rpc.tls.pki:main",
            "vdsm-net-manager=autonomic.cli:main",
        ],
    },
)
