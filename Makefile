# k3s-lxc-resilience: every target sets up what it needs (apt packages, the venv) by itself.
# INVENTORY names the cluster YAML (default: the lab's SSH inventory). LAB_TOPOLOGY=ha makes the lab
# three control containers on embedded etcd (lab/topology.py), with its own inventories.

LAB_TOPOLOGY ?= default
export LAB_TOPOLOGY
INVENTORY ?= lab/inventory$(if $(filter ha,$(LAB_TOPOLOGY)),-ha)-ssh.yml
VENV      := .venv
BIN       := $(CURDIR)/$(VENV)/bin
RUN       := env PATH="$(BIN):$$PATH" K3S_INVENTORY="$(INVENTORY)"
# What the product needs on the deploy machine (a Proxmox host may be one: never lxc there, which
# would replace lxc-pve), and what only the local lab and the test suite need besides.
APT_PACKAGES := python3-venv openssh-client
LAB_APT_PACKAGES := lxc debootstrap nftables iproute2 haproxy curl openssl zstd openssh-server etcd-server etcd-client
# Of those, installed for their program only: lab/node_sshd.py runs node lab2's own sshd on loopback,
# and Debian's openssh-server would start and enable an sshd on port 22 of this machine; the stand-in's
# HA conformance tests run their own etcds on loopback, Debian's etcd-server would start one on 2379.
LAB_NO_SERVICE_PACKAGES := openssh-server etcd-server
LAB_NO_SERVICE_UNITS := ssh.service ssh.socket etcd.service
PYTEST_ARGS ?=
SOAK_ARGS ?=

.PHONY: setup lab-setup check demo test test-ha ha-suite test-day2 test-unit lab-up lab-fresh lab-down lab-status deploy verify restart-test upgrade host-maintenance repair preflight soak

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(call apt_install,$(APT_PACKAGES))
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

## The lab's and the tests' packages, on top of the product's; the code checks' tools in the venv.
lab-setup: setup $(VENV)/.dev-installed
	@$(call apt_install,$(filter-out $(LAB_NO_SERVICE_PACKAGES),$(LAB_APT_PACKAGES)))
	@$(call apt_install,$(LAB_NO_SERVICE_PACKAGES),$(LAB_NO_SERVICE_UNITS))

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

## ruff and mypy on the product code (configured in pyproject.toml).
check: lab-setup
	$(BIN)/ruff check
	$(BIN)/mypy

# apt-get install of the packages not installed yet (apt lists refreshed first). With systemd units
# as a second argument, the packages' services neither start nor stay enabled: during the install a
# policy-rc.d (unless the machine has its own) refuses every start, as invoke-rc.d and
# deb-systemd-invoke ask it (/usr/share/doc/init-system-helpers/README.policy-rc.d); without systemd
# as PID 1 that is all that stops them. Right after, the units are disabled and stopped and their
# init scripts' links disabled. Nothing runs when every package is installed already.
define apt_install
missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
if [ -n "$$missing" ]; then apt-get update -qq && \
$(if $(2),$(call without_service_starts,DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing,$(2)),\
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing); fi
endef

define without_service_starts
{ policy=/usr/sbin/policy-rc.d; \
if [ ! -e $$policy ]; then trap "rm -f $$policy" EXIT; printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 755 $$policy; fi; \
$(1); status=$$?; \
systemctl disable --now $(2) 2>/dev/null || true; \
for unit in $(2); do case $$unit in *.service) update-rc.d $${unit%.service} disable 2>/dev/null || true;; esac; done; \
exit $$status; }
endef

## The main job on the local lab, end to end: lab up, deploy, scripted restart, verify.
demo: lab-up
	$(MAKE) deploy restart-test verify INVENTORY=$(INVENTORY)

## All tests: the code checks, unit and stand-in conformance tests, then end-to-end tests on a
## freshly made lab (containers rebuilt from the cached rootfs, so a "fresh deploy" test really starts
## fresh), then the HA lab's (test-ha). Three pytest-xdist workers: one runs every lab test in file
## order, the two others the stand-in and unit modules meanwhile (tests/conftest.py draws the scopes).
test: check lab-fresh
	$(RUN) $(BIN)/pytest tests/ -n 3 $(PYTEST_ARGS)
	$(MAKE) test-ha

## The HA lab's end-to-end tests (the ones skipped on the default lab) on a freshly
## made HA lab. The sub-make's LAB_TOPOLOGY=ha picks the HA inventories.
test-ha: check
	$(MAKE) lab-fresh ha-suite LAB_TOPOLOGY=ha

ha-suite:
	$(RUN) $(BIN)/pytest tests/lab/test_ha_lab.py $(PYTEST_ARGS)

## The rolling upgrade's and host maintenance's end-to-end tests alone, on a freshly made default lab
## (`make test` runs them with the other lab tests).
test-day2: check lab-fresh
	$(RUN) $(BIN)/pytest tests/lab/day2 $(PYTEST_ARGS)

## Tests that need no LXC: the code checks, pure logic and the stand-in's conformance with real kubectl.
test-unit: check
	$(RUN) $(BIN)/pytest tests/unit tests/standin $(PYTEST_ARGS)

lab-up: lab-setup
	$(RUN) $(BIN)/python lab/lab.py up

lab-fresh: lab-setup
	$(RUN) $(BIN)/python lab/lab.py down
	$(RUN) $(BIN)/python lab/lab.py up

lab-down: lab-setup
	$(RUN) $(BIN)/python lab/lab.py down

lab-status: lab-setup
	$(RUN) $(BIN)/python lab/lab.py status

deploy: setup
	$(RUN) $(BIN)/pyinfra -y inventory.py deploy.py

## RESTART_DATA="--data restart_mode=container" reboots containers with pct (pct inventories).
restart-test: setup
	$(RUN) $(BIN)/pyinfra -y inventory.py restart.py $(RESTART_DATA)

## Rolling k3s upgrade to the inventory's k3s_version (one node at a time; a re-run resumes).
upgrade: setup
	$(RUN) $(BIN)/pyinfra -y inventory.py upgrade.py $(UPGRADE_DATA)

ifneq ($(filter host-maintenance,$(MAKECMDGOALS)),)
ifeq ($(PVE),)
$(error host-maintenance: field PVE: missing (make host-maintenance PVE=<node> [DONE=1]))
endif
endif
## Before a Proxmox node's reboot: its k3s containers drained and shut down (PVE=<node>); after it,
## DONE=1 starts them, waits until they are back, uncordons and verifies. Exit status 0 when done.
host-maintenance: setup
	$(RUN) $(BIN)/python host_maintenance.py -y --data maintenance_node=$(PVE) $(if $(DONE),--data maintenance_done=true) $(MAINTENANCE_DATA)

## Exit status: 0 healthy, 10 repaired, 20 API unreachable, 30 not repaired (REPAIR_ARGS=--dry: plan only).
repair: setup
	$(RUN) $(BIN)/python repair.py -y $(REPAIR_ARGS)

preflight: setup
	$(RUN) $(BIN)/pyinfra -y inventory.py preflight.py

verify: setup
	$(RUN) $(BIN)/pytest verify/ --inventory "$(INVENTORY)" --junitxml=verify/junit.xml

## Random faults on the deployed lab, each until verify is green again (SOAK_ARGS="--rounds 30 --seed 1").
soak: lab-setup
	$(RUN) $(BIN)/python bench/soak.py $(SOAK_ARGS)
