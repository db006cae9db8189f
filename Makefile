# raynomaly: `make run` (demo) and `make test` each set themselves up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STUBS := runtime/rpc/raynomaly_pb2_grpc.py runtime/rpc/open_inference_pb2_grpc.py
# The Open Inference Protocol's own clients, which the tests drive: they need protobuf < 7.
CLIENTS := .venv-clients
CLIENTS_STAMP := $(CLIENTS)/.installed
CLIENTS_REQUIREMENTS := tests/clients/requirements.txt
DEMO := .raynomaly/demo

.PHONY: setup clients system run stop test gates gate-parity gate-ratios bench lint clean

setup: $(STAMP) $(STUBS)

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "raynomaly needs Python 3.11: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

clients: $(CLIENTS_STAMP)

$(CLIENTS_STAMP): $(CLIENTS_REQUIREMENTS)
	$(PYTHON) -m venv $(CLIENTS)
	$(CLIENTS)/bin/python -m pip install --quiet --upgrade pip
	$(CLIENTS)/bin/python -m pip install --quiet -r $(CLIENTS_REQUIREMENTS)
	touch $(CLIENTS_STAMP)

$(STUBS) &: runtime/rpc/raynomaly.proto runtime/rpc/open_inference.proto $(STAMP)
	$(BIN)/python -m runtime.rpc.generate

# What the integration tests and benchmarks run themselves, from Debian's packages (installed as root, as
# in CI): the Prometheus server, and wrk, the C load generator. The tests run their own Prometheus, so
# the daemon the package may start (systemd, sysvinit) is stopped.
system:
	@command -v prometheus >/dev/null && command -v wrk >/dev/null || [ "$$(id -u)" = 0 ] || { echo "make test" \
		"needs prometheus and wrk on PATH: run make as root to install them, or: sudo apt-get install" \
		"prometheus wrk" >&2; exit 1; }
	@command -v prometheus >/dev/null && command -v wrk >/dev/null || { echo "Installing Debian's prometheus" \
		"and wrk packages" && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends prometheus wrk && \
		if [ -d /run/systemd/system ]; then systemctl disable --now --quiet prometheus; \
		elif [ -x /etc/init.d/prometheus ]; then /etc/init.d/prometheus stop; fi; }

run: setup
	$(BIN)/python -m models.demo $(DEMO)
	@$(BIN)/raynomaly models show demo:1 >/dev/null 2>&1 || \
		$(BIN)/raynomaly models train --name demo --detector iforest --data $(DEMO)/train.csv --param random_state=0
	@$(BIN)/raynomaly status >/dev/null 2>&1 || $(BIN)/raynomaly up
	@$(BIN)/raynomaly models show demo:2 >/dev/null 2>&1 || \
		$(BIN)/raynomaly models train --name demo --detector ecod --data $(DEMO)/train.csv
	@echo
	@echo "Inference needs a key: raynomaly up wrote one for you (7 days; mint others with"
	@echo "  $(BIN)/raynomaly controller token --role client --subject NAME [--models demo] [--rate 50])"
	@echo "  export RAYNOMALY_KEY=\$$(cat .raynomaly/controller/client_token)"
	@echo "Score one row over HTTP:"
	@echo "  curl -s localhost:8000/api/v1/predict -H \"Authorization: Bearer \$$RAYNOMALY_KEY\" -d '{\"model\": \"demo\", \"features\": [10, 20, 30, 40, 50, 60, 70, 80]}'"
	@echo "Score over gRPC (raynomaly.v1.Inference, runtime/rpc/raynomaly.proto; the key from RAYNOMALY_KEY):"
	@echo "  $(BIN)/python -m runtime.rpc.example 127.0.0.1:9000 demo"
	@echo "Or with any Open Inference Protocol (KServe v2) client, e.g. tritonclient: HTTP 127.0.0.1:8000/v2,"
	@echo "  gRPC inference.GRPCInferenceService at 127.0.0.1:9000, model demo, input features [rows, 8] (README)"
	@echo "Roll out version 2 as a canary (10% -> 50% -> 100%, rolled back by itself on a regression)."
	@echo "A rollout judges live traffic: send some from another terminal first (Locust, 50 rows/s, 3 min):"
	@echo "  $(BIN)/raynomaly loadtest demo --rps 50 --duration 3m --data $(DEMO)/train.csv"
	@echo "  $(BIN)/raynomaly deploy demo 2 --steps 10,50,100 --interval 15s   # prints the rollout id"
	@echo "  $(BIN)/raynomaly rollout watch ID     (each judge's evidence, live; Ctrl-C leaves it running)"
	@echo "Or through environments (dev, then production after a soak and an approval; README: From dev to production):"
	@echo "  $(BIN)/raynomaly promote demo 2 --to dev --reason \"new detector\"    then    --to production"
	@echo "Or move traffic by hand: $(BIN)/raynomaly traffic set demo 1=90 2=10"
	@echo "See what runs: $(BIN)/raynomaly status    Stop everything: make stop"

stop: setup
	$(BIN)/raynomaly down

test: system setup clients lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The quality gates, a CI job of their own (not part of `make test`; neither starts Ray): every
# detector's compiled scorers against their PyOD references, then the scoring benchmark's speed-ups
# against those recorded in benchmarks/results/scoring.json (RATIOS_ARGS=--tolerance 0.6 to loosen).
gates: gate-parity gate-ratios

gate-parity: setup
	$(BIN)/python benchmarks/gates/parity.py

gate-ratios: setup
	$(BIN)/python benchmarks/gates/ratios.py $(RATIOS_ARGS)

bench: system setup
	$(BIN)/python benchmarks/bench_scoring.py
	$(BIN)/python benchmarks/bench_serving.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_faults.py
	$(BIN)/python benchmarks/bench_rollout.py
	$(BIN)/python benchmarks/bench_judgement.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_hostile.py
	$(BIN)/python benchmarks/bench_security.py
	$(BIN)/python benchmarks/bench_oip.py
	$(BIN)/python benchmarks/bench_drift.py
	$(BIN)/python benchmarks/bench_tracing.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(CLIENTS) .pytest_cache .ruff_cache
