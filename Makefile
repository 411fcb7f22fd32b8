# Two entry points: `make serve` and `make test`. Each bootstraps .venv on its own.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
HOST    ?= 127.0.0.1
PORT    ?= 8080
DATA    ?= ./var

.PHONY: serve test bootstrap browser clean

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

serve: $(STAMP)
	$(BIN)/courtroom --data-dir $(DATA) db upgrade
	$(BIN)/courtroom --data-dir $(DATA) serve --host $(HOST) --port $(PORT)

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info
