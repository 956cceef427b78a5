# Two entry points (see README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: mutation run test install install-test system-deps keycloak pulumi-cli bench web lab lab-down lab-images

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

system-deps:
	bash scripts/install-system-deps.sh

keycloak:
	bash scripts/fetch-keycloak.sh >/dev/null

## The real Pulumi CLI (the pulumi SDK pin's version) in .tools/bin, built once per machine.
pulumi-cli:
	bash scripts/build-pulumi-cli.sh

install-test: install system-deps keycloak pulumi-cli

## The main job on the embedded default: the offline plan of the dev stack.
run: install
	$(PY) cli.py plan --stack $(STACK)

## The origin app's web pages and JSON API on http://127.0.0.1:8000 in the local mode (SQLite, in-process
## cache, one built-in user, no sign-in; loopback only).
web: install
	$(PY) -m app.web --host 127.0.0.1 --port 8000

## Everything the tests need, then the whole suite (real servers started by the fixtures).
test: install-test
	PATH="$(CURDIR)/.tools/bin:$$PATH" $(PY) -m pytest -q

bench: install-test
	$(PY) benchmarks/plan.py

## The live lab (issue 11): Docker engine, local images, the lab stack applied, live checks, report.
## Runs as root; converges when run again. `make lab-down` removes everything it created.
lab: install
	$(PY) cli.py lab up --stack lab

lab-down: install
	$(PY) cli.py lab down --stack lab

## The lab's local images (images/): Docker engine first, then every image built or found cached.
lab-images: install
	bash scripts/install-docker.sh
	$(PY) -m infra.ops.lab.images

## Mutation testing of the core (configured in pyproject.toml [tool.mutmut]) against the fast tests,
## then the score per module. The whole core takes hours on 2 cores: name the modules a change
## touches, e.g. `make mutation MUTANTS='infra.spec.traefik_labels*'`.
MUTANTS ?=
mutation: install
	$(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	$(PY) scripts/mutation_report.py
