# Glint: the two commands a new machine needs are `make deploy` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP_INSTALL := $(BIN)/pip install -q -c requirements/constraints.txt

.PHONY: deploy stop test-deploy test-collection test test-suites test-hosts lint sanity test-unit test-ansible test-service test-fuzz fuzz test-chaos chaos test-modules test-molecule services ceph venv ansible constraints sample-config bench

## deploy: the glint.glance collection's site.yml on this host (inventories/all-in-one):
## glance-api from service/ in /opt/glint/venv, SQLite, file store, no auth, 127.0.0.1:9292.
## DEPLOY_ARGS adds ansible-playbook arguments, e.g. DEPLOY_ARGS='-e glance_api_bind_port=19292'.
deploy: venv ansible
	$(BIN)/ansible-playbook -i inventories/all-in-one site.yml $(DEPLOY_ARGS)

## stop: stop the glance-api that `make deploy` runs (systemd unit or init script)
stop:
	@if [ -d /run/systemd/system ] && [ -f /etc/systemd/system/glance-api.service ]; then \
	  systemctl stop glance-api; \
	elif [ -x /etc/init.d/glance-api ]; then /etc/init.d/glance-api stop; fi

## test-deploy: a multi-store deployment (file, rbd, s3 on the test Ceph) twice and an image
## through each store; then `make deploy` twice (the second run must change nothing),
## --check --diff on the converged host (no change), the API through the openstack client,
## the restart handler and the prechecks (tests/ansible/test-deploy.sh)
test-deploy: venv ansible
	bash tests/ansible/test-deploy.sh

## test-collection: the collection tarball (ansible-galaxy build), installed offline into an
## empty collections path, runs glint.glance.site --check on the host `make deploy` converged
test-collection: venv ansible
	bash tests/ansible/test-collection.sh

## test: everything CI runs, in two streams side by side: each is mostly a serial chain
## on one core, and this machine has two. Each output line starts with the time and the
## stream's name.
##   suites: lint, unit, the roles' files and Keystone registration, the service suites
##   hosts:  the image modules, `make deploy` on this host (test-deploy), the installed
##           collection tarball (test-collection), the molecule scenarios on systemd
##           containers, Debian 12 and 13 (test-molecule)
## The streams share the services under names of their own (README: Tests). A failed
## part stops its stream; the other runs to its end.
test: venv ansible services
	$(MAKE) --no-print-directory -j2 test-suites test-hosts

test-suites:
	$(call stream,lint test-unit test-ansible test-service test-fuzz test-chaos)
test-hosts:
	$(call stream,test-modules test-deploy test-collection test-molecule)

# The targets in $(1) one after another, each line prefixed with the time and [suites]
# or [hosts]. MAKEFLAGS= keeps the sub-make out of the parent's -j2.
stream = set -o pipefail; MAKEFLAGS= $(MAKE) --no-print-directory $(1) 2>&1 \
	| awk '{ print strftime("%T"), "[$(@:test-%=%)]", $$0; fflush() }'

venv: $(BIN)/.installed
$(BIN)/.installed: requirements/constraints.txt requirements/test.in service/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP_INSTALL) -e ./service -r requirements/test.in
	touch $@

# ansible (ansible-core 2.19 with its bundled collections) and ansible-lint, same venv.
ansible: $(BIN)/.ansible-installed
$(BIN)/.ansible-installed: $(BIN)/.installed requirements/ansible.in
	$(PIP_INSTALL) -r requirements/ansible.in
	touch $@

## lint: ruff, ansible-lint (production profile), ansible-test sanity for plugins/, and the
## changelog (changelogs/fragments/ and changelog.yaml, antsibull-changelog)
lint: venv ansible sanity
	$(BIN)/ruff check service tests plugins molecule
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	PATH=$(abspath $(BIN)):$$PATH ANSIBLE_COLLECTIONS_PATH=$$(bash tests/molecule/collection.sh) \
	  ansible-lint --profile production

# ansible-test sanity --python 3.11 in a temporary collection tree (tests/sanity.sh).
sanity: venv ansible
	bash tests/sanity.sh

test-unit: venv ansible
	$(BIN)/python -m pytest -q tests/unit

# The collection's roles render their files into a temporary directory, and the Keystone
# registration runs against the real Keystone.
test-ansible: venv ansible services
	$(BIN)/python -m pytest -q tests/ansible

# The service suites need MariaDB, PostgreSQL, RabbitMQ and a real Keystone.
test-service: venv services
	$(BIN)/python -m pytest -q tests/service

## test-fuzz: property-based fuzzing of every glance-api route (tests/fuzz, hypothesis) on
## each database, CI's budget of examples per route; `make fuzz` runs 1000 per route
## (FUZZ_EXAMPLES=N for another number).
test-fuzz: venv services
	$(BIN)/python -m pytest -q tests/fuzz

FUZZ_EXAMPLES ?= 1000
fuzz: venv services
	GLINT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/fuzz

## test-chaos: the fault suite (tests/chaos): the database, Keystone and RabbitMQ failed
## behind a fault proxy (down, hung, connections cut), a full and an unreadable store, a
## worker killed mid-download; each ends with the consistency check. `make chaos` is the
## same (the soak is not written yet).
test-chaos chaos: venv services
	$(BIN)/python -m pytest -q tests/chaos

## test-modules: the image modules in playbooks against real Glint and Keystone
test-modules: venv ansible services
	$(BIN)/python -m pytest -q tests/integration

## test-molecule: every molecule scenario (create, converge, idempotence, verify, destroy)
## on systemd Debian containers; installs and starts Docker and builds the image if missing
## SCENARIOS=default runs one.
test-molecule: venv ansible services
	bash tests/molecule/run.sh $(SCENARIOS)

# MariaDB, PostgreSQL, RabbitMQ, a real Keystone and a real Ceph (make ceph).
services: ceph
	bash tests/infra/services.sh
	bash tests/infra/keystone.sh start

## ceph: a single-node Ceph for the rbd and s3 stores (tests/infra/ceph.sh: mon, mgr, one
## OSD on a sparse file, pool images with client.glance, radosgw S3 on 127.0.0.1:16480;
## data in .state/ceph), and Debian's rados/rbd bindings linked into the venv. The tests'
## settings: `bash tests/infra/ceph.sh env`; stop it with `bash tests/infra/ceph.sh stop`.
ceph: venv
	bash tests/infra/ceph.sh start
	bash tests/infra/ceph.sh bindings $(VENV)

# pip freeze on this Python (3.11), then the lines for newer Pythons only (with a marker,
# see the end of constraints.txt), which a 3.11 freeze cannot produce.
constraints:
	rm -rf /tmp/glint-constraints && $(PYTHON) -m venv /tmp/glint-constraints
	/tmp/glint-constraints/bin/pip install -q ./service -r requirements/test.in -r requirements/ansible.in
	sed -n '/^# Debian 13/,$$p' requirements/constraints.txt > /tmp/glint-constraints/markers.txt
	/tmp/glint-constraints/bin/pip freeze | grep -v '^glint' > requirements/constraints.txt
	cat /tmp/glint-constraints/markers.txt >> requirements/constraints.txt

## sample-config: regenerate service/etc/glance-api.conf.sample from the code's options
sample-config: venv
	$(BIN)/oslo-config-generator --config-file service/etc/oslo-config-generator/glance-api.conf

## bench: Glint against upstream Glance on this machine (bench/README.md); never part of CI.
## BENCH_QUICK=1 for a short run, BENCH_DATABASES=sqlite for one database.
bench: venv
	GLINT_VENV=$(abspath $(VENV)) bash bench/bench.sh
