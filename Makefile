# Two commands: `make demo` (set up .venv once, then run the main job) and `make test`.
# A second run reuses .venv; it reinstalls only when pyproject.toml or constraints change.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.faultmap-installed

# Offline by default: the packaged model needs no hub, litellm keeps its local price table.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: demo test lint bench clean browser

demo: $(STAMP)
	$(PY) examples/quickstart.py --out report.json

test: $(STAMP) browser
	$(PY) -m pytest

# The HTML report is checked in a real headless Chromium. Installed from Debian's packages
# when missing and apt-get is usable (CI, root); elsewhere install chromium yourself.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the HTML report tests"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
	      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	  else \
	    echo "chromium not found: install it (e.g. apt-get install chromium) for the browser tests" >&2; \
	  fi; }

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) -m benchmarks.run_benchmark

$(STAMP): pyproject.toml constraints-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned here only: a CPU wheel is on disk; a loose torch pulls a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]" -c constraints-dev.txt
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
