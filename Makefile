# The two commands of the README: `make run` and `make test`.
# Both set up .venv on first use; nothing else needs installing by hand
# beyond the prerequisites the README names (Python 3.11, the Google Cloud
# SDK with its Firestore emulator, Java 17, Terraform for the checks).
VENV ?= .venv
PY := $(VENV)/bin/python
# `make run` installs only what running needs (the library and its local
# stack): a first run shows its table in under a minute. The test tools
# (mypy, schemathesis, grpcio-tools, checkov ...) come with `make test`.
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
# checkov lives in a venv of its own: its bc-python-hcl2 and the tests'
# python-hcl2 install into the same `hcl2` package and would clobber each other.
TOOLS := .venv-tools

.PHONY: run test test-long bench proto lint setup check-prereqs

$(RUN_STAMP): pyproject.toml
	@command -v python3.11 >/dev/null || command -v python3 >/dev/null || { echo "python3 (3.11+) is required"; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[local]'
	@touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet 'checkov>=3.2'
	@touch $(STAMP)

setup: $(STAMP)

check-prereqs: $(RUN_STAMP)
	@$(PY) -m slotwork_local.prereqs $(if $(filter run,$(MAKECMDGOALS)),--run)

run: $(RUN_STAMP) check-prereqs
	$(VENV)/bin/slotwork-local $(ARGS)

test: $(STAMP) check-prereqs
	$(PY) -m slotwork_local.checks

test-long: $(STAMP) check-prereqs
	SLOTWORK_LONG=1 $(PY) -m pytest -m reliability tests

bench: $(STAMP) check-prereqs
	$(PY) -m benchmarks $(ARGS)

proto: $(STAMP)
	$(PY) -m slotwork_local.proto
