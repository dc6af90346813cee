# vdsm-net. The two commands a user needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all venv deps-system guest run run-cluster test test-unit test-runners test-kernel test-e2e \
	test-cluster lint bench clean deb test-package

all: test

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,cluster]'
	@# ethtool is an optional extra: it needs libnl headers to build; everything works without it.
	-$(PY) -m pip install -q -e '.[ethtool]' >/dev/null 2>&1 || true
	touch $(STAMP)

venv: $(STAMP)

# System packages for the kernel tiers (User-Mode Linux, kmod, iproute2) and the daemons the guest
# runs (dnsmasq, Open vSwitch, etcd). Installs them when root. Services are not started on this
# machine: the tests start their own daemons inside the guest.
# The package's own Depends (Debian's libraries): the package tier runs it on them.
SYSTEM_PYTHON_LIBS := python3-cryptography python3-prometheus-client
SYSTEM_PACKAGES := user-mode-linux kmod iproute2 libnl-3-dev libnl-route-3-dev pkg-config \
	busybox dnsmasq-base openvswitch-switch etcd-server graphviz \
	debhelper dh-python python3-all python3-setuptools $(SYSTEM_PYTHON_LIBS)
SYSTEM_COMMANDS := linux.uml modprobe ip busybox dnsmasq ovsdb-server ovs-vswitchd etcd dot \
	dh pybuild
deps-system:
	@missing=; for c in $(SYSTEM_COMMANDS); do command -v $$c >/dev/null || missing="$$missing $$c"; done; \
	for p in $(SYSTEM_PYTHON_LIBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages (missing:$$missing)"; \
	    norc=; if [ ! -e /usr/sbin/policy-rc.d ]; then norc=1; printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $(SYSTEM_PACKAGES) >/dev/null; rc=$$?; \
	    [ -z "$$norc" ] || rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	  else \
	    echo "the kernel tiers need$$missing: run 'make test' as root (apt-get install $(SYSTEM_PACKAGES))" >&2; exit 1; \
	  fi; \
	fi

# The guest runner for the kernel tiers: chosen for this machine's CPU (tests/uml/choose.py), and
# what it needs installed or built (gcc for the ptrace shim; qemu-system-x86, a Debian kernel and an
# initramfs for QEMU), cached under .cache/guest.
guest: deps-system venv
	$(PY) -m tests.uml prepare

test: deps-system venv lint test-unit test-package test-runners test-kernel test-e2e test-cluster

test-unit: venv
	$(PY) -m pytest -q tests/unit

# A smoke boot of every runner this machine allows (the others are listed with the reason).
test-runners: guest
	tests/uml/smoke-runners.sh

test-kernel: guest
	tests/uml/run-tier.sh tests/kernel

test-e2e: guest
	tests/uml/run-tier.sh tests/e2e

# Several namespace hosts, etcd and two managers inside the guest kernel (issue 13).
test-cluster: guest
	tests/uml/run-tier.sh tests/cluster

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The peers of bench_peers.py (ifupdown2, NetworkManager): Debian's .debs unpacked under
# .cache/peers, never installed (bench/fetch_peers.sh). matplotlib (the optional bench extra) draws
# bench/results.png; bench/results.json holds every script's figures with the machine.
PEERS := .cache/peers/.fetched
$(PEERS): bench/fetch_peers.sh
	bench/fetch_peers.sh

$(VENV)/.bench: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]' && touch $@

bench: guest $(PEERS) $(VENV)/.bench
	rm -f bench/out/*.json bench/out/*.txt
	$(PY) -m bench._summary machine
	tests/uml/run-tier.sh --bench bench; rc=$$?; $(PY) -m bench._summary merge; exit $$rc

# make run PORT=N: another port (default 54321); refuses a taken port or existing demo namespaces.
run: venv
	contrib/run-demo.sh

# etcd, three namespace hosts and two managers on this machine (root; namespaces only).
run-cluster: deps-system venv
	contrib/run-cluster.sh

# The Debian package, with Debian's tooling (debhelper, dh-python/pybuild), built from a copy of
# the tree under build/deb (dpkg-buildpackage writes next to its source). The man pages are
# generated from the argparse definitions first.
DEB := build/deb/vdsm-net_$(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' vdsm_net/__init__.py)_all.deb
deb: venv
	rm -rf build/deb && mkdir -p build/deb/src
	git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C build/deb/src
	$(PY) -m vdsm_net.ops.manpage build/deb/src/debian/man >/dev/null
	$(PY) -m autonomic.manpage build/deb/src/debian/man >/dev/null
	cd build/deb/src && dpkg-buildpackage -b -us -uc >../build.log 2>&1 || { tail -30 ../build.log; exit 1; }
	@echo "built $(DEB)"

# Builds the package once, then checks its contents (tests/package).
test-package: deps-system deb
	VDSM_NET_DEB=$(DEB) $(PY) -m pytest -q tests/package

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
