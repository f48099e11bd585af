# Two commands on a fresh machine (Python 3.11 + pip; Debian/Ubuntu for the optional system packages):
#   make run    set up and start the app on the offline default model
#   make test   set up and run the whole test suite (unit, page, real-browser)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# PyTorch's CPU build: on this project's machines `pip install torch==2.13.0` finds the CPU wheel on
# disk; elsewhere add PyTorch's CPU index, e.g. make run TORCH_PIP_ARGS="--index-url <cpu index>".
TORCH_PIP_ARGS ?=
APT_APP  := wordnet-base wordnet-sense-index
APT_TEST := chromium

.PHONY: run test setup setup-dev system-deps system-deps-test bench clean

run: setup
	$(BIN)/streamlit run app.py

test: setup-dev system-deps-test
	$(BIN)/python -m pytest -q

setup: $(VENV)/.app-ready
setup-dev: $(VENV)/.dev-ready

$(VENV)/.app-ready: requirements.txt
	$(MAKE) --no-print-directory system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install -q -r requirements.txt
	@# Offline extras; each says what is missing and the app degrades gracefully without it.
	-$(BIN)/python -m core vendor-js
	-$(BIN)/python -m core setup-nltk
	touch $@

$(VENV)/.dev-ready: $(VENV)/.app-ready requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# System packages: WordNet for synonym augmentation (app) and Chromium for the browser tests.
system-deps:
	@$(call apt_install,$(APT_APP))
system-deps-test:
	@$(call apt_install,$(APT_TEST))

define apt_install
if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
  missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
else echo "note: install $(1) with your package manager for the features that need them"; fi
endef

bench: setup-dev
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build vendor_js nltk_data test-artifacts
