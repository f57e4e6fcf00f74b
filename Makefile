# pli: the two commands a fresh machine needs are `make index` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
CONFIG ?= configs/croydon-demo.yml
OUT    ?= output
MAPS   ?= maps
REPORT ?= report
ARGS   ?=

.PHONY: index test maps report clean venv open-data bench docs

# The venv is rebuilt whenever the project's own dependency list changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

## make index: build rankings, neighbourhoods, patrol plan and maps for the default config
index: $(VENV)/.installed
	$(PY) -m pli index --config $(CONFIG) --out $(OUT) --maps $(MAPS) $(ARGS)

## make maps: same run, maps rendered offline (JavaScript/CSS inline) for locked-down laptops
maps: $(VENV)/.installed
	$(PY) -m pli index --config $(CONFIG) --out $(OUT) --maps $(MAPS) --offline $(ARGS)

## make report: the committee report (HTML printable to A4, and PDF with Chromium) of the last `make index`
report: $(VENV)/.installed
	$(PY) -m pli report --index $(OUT) --maps $(MAPS) --out $(REPORT) $(ARGS)

## make open-data: the real Croydon snapshot in ../shared/data
open-data: $(VENV)/.installed
	$(PY) -m pli index --config configs/croydon-open-data.yml --data-dir ../shared/data --out output-open-data --maps maps-open-data $(ARGS)

## make test: lint (ruff), types (mypy), then the whole test suite with the doctests
test: $(VENV)/.installed
	$(PY) -m ruff check pli tests benchmarks scripts
	$(PY) -m mypy
	$(PY) -m pytest -q $(ARGS)

## make docs: regenerate docs/CONFIG.md, the config reference, from pli/config/specs.py
docs: $(VENV)/.installed
	$(PY) -m pli config --reference --out docs/CONFIG.md

## make bench: the benchmarks (slow; run on demand)
bench: $(VENV)/.installed
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(OUT) $(REPORT) output-open-data maps-open-data $(MAPS)/*.html $(MAPS)/*.png $(MAPS)/neighbourhoods screenshots .pytest_cache
