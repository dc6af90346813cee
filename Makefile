# vdsm-net. The two commands a user needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: all venv deps-system run run-cluster test test-unit test-kernel test-e2e test-cluster lint \
	bench clean

all: test

$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# ethtool is an optional extra: it needs libnl headers to build; everything works without it.
	-$(PY) -m pip install -q -e '.[ethtool]' >/dev/null 2>&1 || true
	touch $(STAMP)

venv: $(STAMP)

# System packages for the kernel tiers (User-Mode Linux, kmod, iproute2) and the cluster (etcd).
# Installs them when root.
deps-system:
	@if ! command -v linux.uml >/dev/null || ! command -v modprobe >/dev/null || ! command -v ip >/dev/null \
	  || ! command -v busybox >/dev/null || ! command -v dnsmasq >/dev/null \
	  || ! command -v etcd >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      user-mode-linux kmod iproute2 libnl-3-dev libnl-route-3-dev pkg-config \
	      busybox dnsmasq-base etcd-server >/dev/null; \
	  else \
	    echo "the tiers need user-mode-linux, kmod, iproute2, busybox, dnsmasq and etcd-server: run 'make test' as root" >&2; exit 1; \
	  fi; \
	fi

test: deps-system venv lint test-unit test-kernel test-e2e test-cluster

test-unit: venv
	$(PY) -m pytest -q tests/unit

test-kernel: deps-system venv
	tests/uml/run-tier.sh tests/kernel

test-e2e: deps-system venv
	tests/uml/run-tier.sh tests/e2e

# Several namespace hosts, etcd and two managers inside the guest kernel (issue 13).
test-cluster: deps-system venv
	tests/uml/run-tier.sh tests/cluster

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: deps-system venv
	tests/uml/run-tier.sh --bench bench

run: venv
	contrib/run-demo.sh

# etcd, three namespace hosts and two managers on this machine (root; namespaces only).
run-cluster: deps-system venv
	contrib/run-cluster.sh

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
