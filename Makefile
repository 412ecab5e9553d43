# SmartyReader for MicroPython: build chain, tests, benchmarks.
#
#   make demo   simulated meter -> firmware on MicroPython -> local broker -> station
#   make test   every test (builds what it needs)
#   make bench  benchmarks -> BENCHMARKS.md
#   make stress the firmware and setup tests 10 times with every core kept busy
#   make deps   (root) the Debian packages the above need
#   make firmware BOARD=lolin_d1_mini_pro|mhet_esp32minikit MICROPY_DIR=...
#               a custom board firmware (needs the port's SDK: see README)
#
# Everything is built under build/; nothing outside the checkout is written
# except by `make deps`.

SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
BUILD := $(ROOT)/build
BIN := $(BUILD)/bin
DL := $(BUILD)/dl
VENV := $(BUILD)/venv
PY := $(VENV)/bin/python
VECTORS := $(ROOT)/host_tests/vectors
JOBS ?= $(shell nproc)
# SOURCES: the pinned source archives (tools/sources.sha256) of what the boards' firmware
# is built from: micropython-lib, the ESP8266 SDK...  By default the team's source cache
# beside the checkout, when there is one.
SOURCES ?= $(wildcard $(ROOT)/../shared/sources)
MPLIB_ARCHIVE := micropython-lib-1.25.0.tar.xz
MPLIB := $(BUILD)/micropython-lib-1.25.0

# MicroPython 1.25.0 from Debian trixie's source package, and the mbedtls it
# builds `tls`/`cryptolib` with (the submodule is empty in Debian's tarball).
MP_VERSION := 1.25.0
MP_TARBALL := micropython_$(MP_VERSION)+ds.orig.tar.xz
MP_SHA256 := 7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
MBEDTLS_PKG := mbedtls=3.6.6-0.1~deb13u1
MBEDTLS_TARBALL := mbedtls_3.6.6.orig.tar.bz2
MBEDTLS_SHA256 := 8fb65fae8dcae5840f793c0a334860a411f884cc537ea290ce1c52bb64ca007a
MP_DIR := $(BUILD)/micropython-$(MP_VERSION)
MP_STAMP := $(MP_DIR)/.unpacked

AESGCM_DIR := $(ROOT)/cmodules/aesgcm
AESGCM_SRC := $(AESGCM_DIR)/gcm.c $(AESGCM_DIR)/gcm.h $(AESGCM_DIR)/gcm_tables.h \
	$(AESGCM_DIR)/modaesgcm.c $(AESGCM_DIR)/micropython.mk

DEBIAN_PACKAGES := gcc make libc6-dev python3 python3-venv xz-utils bzip2 gcc-multilib \
	gcc-xtensa-lx106 binutils-xtensa-lx106 picolibc-xtensa-lx106-elf valgrind \
	mosquitto mosquitto-clients openssl patch chromium

# The unix port, without what Debian's tarball lacks (btree, ffi); `aesgcm` compiled in
# (not in the stock build).
UNIX_STOCK_FLAGS := MICROPY_PY_BTREE=0 MICROPY_PY_FFI=0 MICROPY_PY_SSL=1 MICROPY_SSL_MBEDTLS=1
UNIX_FLAGS := $(UNIX_STOCK_FLAGS) USER_C_MODULES=$(ROOT)/cmodules
# micropython (64-bit): asyncio, umqtt and ssl frozen in (tools/manifest_unix.py; here
# MPY_LIB_DIR only has to hold a README.md).  The 32-bit builds have the ESP ports' word
# size and single-precision floats, and frozen in what a board's image has
# (micropython-lib 1.25.0 for its require()s) and the board models' names
# (tools/manifest_models.py): micropython32 the ESP8266 custom image's modules, the
# application among them (tools/manifest_unix32.py) ...
MODELS := $(wildcard host_tests/models/*.py) tools/manifest_models.py
APP_SRC := $(wildcard firmware/lib/*/*.py) firmware/manifest.py tools/manifest_unix32.py \
	$(MODELS) $(MPLIB)/.unpacked
UNIX64_FLAGS := FROZEN_MANIFEST=$(ROOT)/tools/manifest_unix.py \
	MPY_LIB_DIR=$(BUILD)/no-micropython-lib
UNIX32_BASE_FLAGS := MICROPY_FORCE_32BIT=1 MPY_LIB_DIR=$(MPLIB) \
	CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT MPY_CROSS_FLAGS=-march=x86
UNIX32_FLAGS := $(UNIX32_BASE_FLAGS) FROZEN_MANIFEST=$(ROOT)/tools/manifest_unix32.py
# ... and micropython32-stock a stock ESP32 image's (tools/manifest_stock.py): no aesgcm,
# nothing of ours frozen: the application runs as .mpy files, its names and strings
# interned on the heap at load, as on a stock image.
UNIX32_STOCK_FLAGS := $(UNIX32_BASE_FLAGS) FROZEN_MANIFEST=$(ROOT)/tools/manifest_stock.py

NATMOD_ARCHS := x64 x86 xtensa

.PHONY: esp8266-image stress firmware help deps print-debian-packages micropython umqtt natmod check-esp8266 venv stubs test test-c test-py bench demo clean

help:
	@sed -n '3,10p' Makefile | sed 's/^# \{0,1\}//'

deps:
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(DEBIAN_PACKAGES)

print-debian-packages:
	@echo $(DEBIAN_PACKAGES)

# ---- MicroPython source ----

$(MP_STAMP): tools/debsrc.sh
	tools/debsrc.sh micropython $(MP_TARBALL) $(MP_SHA256) $(DL)
	tools/debsrc.sh $(MBEDTLS_PKG) $(MBEDTLS_TARBALL) $(MBEDTLS_SHA256) $(DL)
	rm -rf $(MP_DIR)
	tar -C $(BUILD) -xJf $(DL)/$(MP_TARBALL)
	tar -C $(MP_DIR)/lib/mbedtls --strip-components=1 -xjf $(DL)/$(MBEDTLS_TARBALL)
	touch $@

# ---- MicroPython binaries ----

micropython: $(BIN)/micropython $(BIN)/micropython32 $(BIN)/micropython32-stock $(BIN)/mpy-cross

$(BIN)/mpy-cross: $(MP_STAMP)
	$(MAKE) -C $(MP_DIR)/mpy-cross -j$(JOBS) BUILD=$(BUILD)/mpy-cross
	install -D $(BUILD)/mpy-cross/mpy-cross $@

$(BIN)/micropython: $(MP_STAMP) $(AESGCM_SRC) tools/manifest_unix.py $(MPLIB)/.unpacked \
		$(BIN)/mpy-cross
	mkdir -p $(BUILD)/no-micropython-lib && touch $(BUILD)/no-micropython-lib/README.md
	$(MAKE) -C $(MP_DIR)/ports/unix -j$(JOBS) $(UNIX_FLAGS) $(UNIX64_FLAGS) BUILD=$(BUILD)/unix64-app \
		MICROPY_MPYCROSS=$(BIN)/mpy-cross
	install -D $(BUILD)/unix64-app/micropython $@

$(BIN)/micropython32: $(MP_STAMP) $(AESGCM_SRC) $(APP_SRC) $(BIN)/mpy-cross
	$(MAKE) -C $(MP_DIR)/ports/unix -j$(JOBS) $(UNIX_FLAGS) $(UNIX32_FLAGS) BUILD=$(BUILD)/unix32-app \
		MICROPY_MPYCROSS=$(BIN)/mpy-cross
	install -D $(BUILD)/unix32-app/micropython $@

$(BIN)/micropython32-stock: $(MP_STAMP) tools/manifest_stock.py $(MODELS) $(MPLIB)/.unpacked \
		$(BIN)/mpy-cross
	$(MAKE) -C $(MP_DIR)/ports/unix -j$(JOBS) $(UNIX_STOCK_FLAGS) $(UNIX32_STOCK_FLAGS) \
		BUILD=$(BUILD)/unix32-stock MICROPY_MPYCROSS=$(BIN)/mpy-cross
	install -D $(BUILD)/unix32-stock/micropython $@

# ---- a custom firmware image for a board (the port's toolchain must exist) ----

MICROPY_DIR ?= $(MP_DIR)
firmware: $(MP_STAMP) venv
	@SOURCES="$(SOURCES)" ESPTOOL="$(VENV)/bin/esptool.py" tools/firmware.sh "$(BOARD)" "$(MICROPY_DIR)"

# ---- aesgcm as a dynamic native module ----

natmod: $(foreach a,$(NATMOD_ARCHS),$(BUILD)/natmod/aesgcm_$(a).mpy)

$(BUILD)/natmod/aesgcm_%.mpy: $(MP_STAMP) $(AESGCM_SRC) $(AESGCM_DIR)/natmod/* $(BIN)/mpy-cross | venv
	$(MAKE) -C $(AESGCM_DIR)/natmod MPY_DIR=$(MP_DIR) ARCH=$* BUILD=$(BUILD)/natmod/$* \
		MPY_CROSS=$(BIN)/mpy-cross PYTHON=$(PY) MOD=aesgcm_$*
	install -D $(AESGCM_DIR)/natmod/aesgcm_$*.mpy $@
	rm -f $(AESGCM_DIR)/natmod/aesgcm_$*.mpy

# The module's objects compiled with the ESP8266 port's flags (no SDK needed).
check-esp8266: $(MP_STAMP)
	tools/check_esp8266.sh $(MP_DIR) $(ROOT)/cmodules/aesgcm $(BUILD)/esp8266-check

# ---- micropython-lib 1.25.0 (the submodule the boards freeze umqtt.simple 1.6.0 and
# ssl from), from the pinned source archive: the unix builds freeze the same code ----

umqtt: $(MPLIB)/.unpacked

$(MPLIB)/.unpacked: tools/sources.sha256
	@test -n "$(SOURCES)" -a -f "$(SOURCES)/$(MPLIB_ARCHIVE)" || { echo "make: $(MPLIB_ARCHIVE)" \
		"is not in SOURCES='$(SOURCES)': see README, 'A custom firmware'" >&2; exit 2; }
	grep " $(MPLIB_ARCHIVE)$$" tools/sources.sha256 | sed "s#  #  $(SOURCES)/#" | sha256sum -c --quiet -
	# -m: the files dated now, or the freezer keeps .mpy files it made from another version
	rm -rf $(MPLIB) && tar -C $(BUILD) -m -xJf $(SOURCES)/$(MPLIB_ARCHIVE)
	touch $@

# ---- Python environment for host tests and tools ----

venv: $(VENV)/.installed

$(VENV)/.installed: host_tests/requirements.txt station/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --require-hashes --no-deps -r host_tests/requirements.txt
	$(PY) -m pip install -q --require-hashes --no-deps -r station/requirements.txt && $(PY) -m pip install -q --no-deps --no-build-isolation --no-index -e station
	touch $@

# The ports' type stubs (host_tests/test_types.py), one directory per port: the two sets
# share module names (machine, network...), so neither goes into the venv.
stubs: $(BUILD)/stubs/esp8266/.installed $(BUILD)/stubs/esp32/.installed

$(BUILD)/stubs/%/.installed: host_tests/stubs-%.txt | venv
	rm -rf $(@D)
	$(PY) -m pip install -q --require-hashes --no-deps --target $(@D) -r $<
	touch $@

# ---- tests ----

test: test-c check-esp8266 esp8266-image test-py

# The real ESP8266 image (host_tests/test_image.py checks it).
esp8266-image: micropython
	$(MAKE) firmware BOARD=lolin_d1_mini_pro

test-c: $(MP_STAMP)
	$(MAKE) -C $(AESGCM_DIR)/test BUILD=$(BUILD)/ctest VECTORS=$(VECTORS)/gcm

test-py: micropython natmod venv umqtt stubs
	$(PY) -m pytest -q host_tests

STRESS_RUNS ?= 10
stress: micropython natmod venv umqtt
	$(PY) tools/stress.py --runs $(STRESS_RUNS) host_tests/test_firmware.py host_tests/test_setup.py

bench: micropython natmod venv
	$(PY) bench/run.py --out BENCHMARKS.md

demo: micropython umqtt venv
	cd tools && $(PY) demo.py

clean:
	rm -rf $(BUILD)/unix64-app $(BUILD)/unix32-app $(BUILD)/unix32-stock $(BUILD)/mpy-cross $(BUILD)/natmod $(BUILD)/ctest $(BIN)
