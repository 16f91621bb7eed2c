# The two commands of the README: `make run` and `make test`.
# Both set up .venv on first use; nothing else needs installing by hand
# beyond the prerequisites the README names (Python 3.11, the Google Cloud
# SDK with its Firestore emulator, Java 17, Terraform).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# checkov lives in a venv of its own: its bc-python-hcl2 and the tests'
# python-hcl2 install into the same `hcl2` package and would clobber each other.
TOOLS := .venv-tools

.PHONY: run test test-long bench proto lint setup check-prereqs

$(STAMP): pyproject.toml
	@command -v python3.11 >/dev/null || command -v python3 >/dev/null || { echo "python3 (3.11+) is required"; exit 1; }
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet 'checkov>=3.2'
	@touch $(STAMP)

setup: $(STAMP)

check-prereqs:
	@$(PY) -m slotwork_local.prereqs

run: $(STAMP) check-prereqs
	$(VENV)/bin/slotwork-local $(ARGS)

test: $(STAMP) check-prereqs
	$(PY) -m slotwork_local.checks

test-long: $(STAMP) check-prereqs
	SLOTWORK_LONG=1 $(PY) -m pytest -m reliability tests

bench: $(STAMP) check-prereqs
	$(PY) -m benchmarks $(ARGS)

proto: $(STAMP)
	$(PY) -m slotwork_local.proto
