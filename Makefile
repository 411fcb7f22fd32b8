# Two entry points: `make serve` and `make test`. Each bootstraps .venv on its own.
SHELL   := /bin/bash
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 8080
DATA    ?= ./var

.PHONY: serve test bootstrap browser nats clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

bootstrap: $(STAMP)

# Test tools from Debian where missing: Chromium for the browser tests (not a Playwright
# download), DejaVu fonts for PDFs with Kazakh letters, poppler for reading PDFs back.
browser:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "warning: could not install$$missing; tests that need them will say so"; fi

# NATS with JetStream at 127.0.0.1:4222 for the several-node tests: Debian's nats-server,
# installed and started here only where none answers.
nats:
	@if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then \
	  command -v nats-server >/dev/null 2>&1 || (apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null) \
	    || echo "warning: could not install nats-server; the several-node tests will say so"; \
	  if command -v nats-server >/dev/null 2>&1; then \
	    mkdir -p $(DATA)/nats && (nohup nats-server -a 127.0.0.1 -p 4222 -js -sd $(DATA)/nats \
	      >$(DATA)/nats/server.log 2>&1 &) && sleep 1; fi; fi

serve: $(STAMP)
	$(BIN)/courtroom --data-dir $(DATA) db upgrade
	$(BIN)/courtroom --data-dir $(DATA) serve --host $(HOST) --port $(PORT)

# TEST_WORKERS=2 runs the suite on two pytest-xdist workers (about 18 instead of 27 minutes on
# two cores); the default runs it in one process, where the media tests' timing is steadiest.
TEST_WORKERS ?= 0

test: $(STAMP) browser nats
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info
