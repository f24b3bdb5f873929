# Two commands matter: `make test` (every test) and `make sim` (the virtual board). Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
# pytest-xdist workers: 2 cores on CI; override with `make test JOBS=1`.
JOBS ?= auto
# The HIL suite's pico_lane tests on emulated Picos: not yet in make test (each takes minutes on
# this 2-core machine: docs/hil.md); `make test PICO_LANE=` runs them too, `make hil-rp2` all.
PICO_LANE ?= --no-pico-lane

.PHONY: test test-py test-mpy deps clean sim

deps: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=23"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## test: every test: CPython unit, property and HIL tests, the MicroPython lane (tests/mpy runs
## tests/firmware on MicroPython beside the rest) and the emulated Pico's lane (tests/rp2).
test: deps
	$(BIN)/python -m pytest -q -n $(JOBS) $(PICO_LANE)

test-py: $(PY_STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) $(PICO_LANE)

## sim: the main job. The virtual board runs infusion INFUSION (default 1) on the real firmware,
## shown live, at a time scale that finishes in about a minute. SCALE=K, FAST=1 change that:
## make sim INFUSION=2 SCALE=600. SERVE=1 only serves its ports until Ctrl-C (real time unless
## SCALE or FAST), for pumpctl, miniterm and the HIL suite (docs/virtual-board.md).
INFUSION ?= 1
sim: deps
	$(BIN)/python -m host_tools.sim.run --infusion $(INFUSION) $(if $(SCALE),--scale $(SCALE)) \
		$(if $(FAST),--fast) $(if $(SERVE),--serve)

## test-mpy: the firmware and its tests on real MicroPython (WebAssembly build, under Node).
test-mpy: $(NODE_STAMP)
	node tests/mpy/run.mjs

clean:
	rm -rf $(VENV) node_modules .pytest_cache .hypothesis

## bench: the benchmarks (docs/benchmarks.md): prints a table, writes bench/results.json.
## FULL=1 also times `make test` (minutes); otherwise its last measured figure is carried over.
.PHONY: bench
bench: deps
	$(BIN)/python -m bench.run $(if $(FULL),--full)

## flash: compile the firmware and copy it to a board, e.g. make flash BOARD=pico PORT=a0
## (PORT defaults to auto; refused while an infusion runs; docs/bench.md).
BOARD ?= pico
PORT ?= auto
.PHONY: flash
flash: $(PY_STAMP)
	$(BIN)/pumpctl flash --board $(BOARD) --port $(PORT)

## image: a MicroPython image with the board's firmware frozen in, from its manifest and the rp2
## sources in ../shared/rp2 (docs/install.md): make image BOARD=pico -> build/image/pico-<key>/
## firmware.uf2, minutes the first time, then reused until an input changes. Installs Debian's
## ARM toolchain when it is missing (as root, else with sudo). BOARD=esp32 says what it needs.
## image-test: that image booted on the emulated Pico (tests/rp2/test_frozen_image.py), and
## mpremote mip install of the firmware onto a fresh one from a local index (test_mip.py).
## mip-index: the firmware as a mip package index in build/mip, for mpremote mip install.
IMAGE_APT := gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib cmake \
	build-essential
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
.PHONY: image image-toolchain image-test mip-index
image: $(PY_STAMP) $(if $(filter esp32,$(BOARD)),,image-toolchain)
	$(BIN)/pumpctl image --board $(BOARD)

image-toolchain:
	@command -v dpkg-query >/dev/null || { echo "not Debian: install $(IMAGE_APT) yourself"; exit 0; }; \
	missing=$$(for p in $(IMAGE_APT); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing" $$missing; $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
		$$missing; fi

image-test: deps image-toolchain
	$(BIN)/pumpctl image --board pico
	$(BIN)/python -m pytest tests/rp2/test_frozen_image.py tests/rp2/test_mip.py --image -n $(JOBS)

mip-index: $(PY_STAMP)
	$(BIN)/pumpctl mip-index --out build/mip

## hil-rp2: the whole HIL suite on emulated Picos (the real MicroPython rp2 port on rp2040js,
## flashed once by pumpctl flash, every test on a fresh one booted from that flash), one per
## xdist worker, longest first (docs/hil.md: its last run). make test runs its pico_lane part.
## rp2: only the fast emulated-Pico lane that make test also runs (tests/rp2).
.PHONY: hil-rp2 rp2
hil-rp2: deps
	$(BIN)/python -m pytest hil_tests --pico -n $(JOBS) --dist loadgroup -v

rp2: deps
	$(BIN)/python -m pytest tests/rp2 -n $(JOBS)

## hil: the HIL suite (hil_tests/) on a real board: make hil PORT=/dev/ttyACM0 [BALANCE=...];
## PORT=a0,a1,a2 runs a farm, one board per xdist worker; without PORT, on the virtual board.
.PHONY: hil
hil: deps
	$(BIN)/python -m pytest hil_tests $(if $(filter-out auto,$(PORT)),--port $(PORT) -n $(shell echo $(PORT) | tr , ' ' | wc -w),-n $(JOBS)) $(if $(BALANCE),--balance $(BALANCE))

## figures: the figures in docs/figures/ (the paper's Fig. 2 beside a simulated cohort, the
## durations, one infusion's figure), made by tests/host/docfigures.py (its test checks them).
.PHONY: figures
figures: $(PY_STAMP)
	cd tests/host && ../../$(BIN)/python docfigures.py ../../docs/figures
