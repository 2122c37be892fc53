# Set-up and the two commands of the README: `make demo` and `make test`.
# A GPU user installs their own torch build into .venv first (see README); the
# pin below only applies when the virtual environment has no torch yet.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup stockfish demo test lint typecheck unit bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev,launchers]"
	touch $(STAMP)

# Debian's stockfish (the chess tests use the real engine); installed at /usr/games.
stockfish:
	@command -v stockfish >/dev/null || test -x /usr/games/stockfish || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stockfish >/dev/null; }

demo: setup
	PYTHONHASHSEED=0 $(BIN)/python -m incentives.run.demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# Two workers (idle ones steal queued tests): most tests run the real CLI in a
# single-threaded subprocess.
unit: setup stockfish
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -q -n 2 --dist worksteal

# mypy (one process, ~35 s from a cold cache) runs beside the tests: it fills the cores the
# two workers leave idle at the end, instead of adding its whole time before them.
test: lint stockfish
	$(MAKE) --no-print-directory -j2 typecheck unit

bench: setup
	$(BIN)/python -m pip install -q -e ".[dev,launchers,bench]"
	$(BIN)/python benchmarks/qa_env_throughput.py
	$(BIN)/python benchmarks/chess_env_throughput.py

clean:  # the environment and caches; runs/ holds results and stays
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
