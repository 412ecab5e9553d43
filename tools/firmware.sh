#!/bin/bash
# make firmware BOARD=<boards/ folder> [MICROPY_DIR=<MicroPython source>]: a custom
# MicroPython image for the board (the port's modules, aesgcm in C, the application
# frozen) -> build/firmware/<board>.bin, for `tools/flash.py flash --firmware`.
# The ports' toolchains are not in Debian: this says what is missing and stops.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
board=${1:-}
micropython=${2:-}
boards=$(cd "$root/boards" && ls -d */ | tr -d / | grep -v '^unix$' | tr '\n' ' ')

fail() {
    echo "make firmware: $*" >&2
    exit 2
}

[ -n "$board" ] && [ -f "$root/boards/$board/board.json" ] ||
    fail "no board ${board:-given}: BOARD= one of: $boards"
mcu=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["mcu"])' \
    "$root/boards/$board/board.json")
[ -n "$micropython" ] && [ -d "$micropython/ports/$mcu" ] ||
    fail "MICROPY_DIR= a MicroPython source tree (1.25) with ports/$mcu"
micropython=$(cd "$micropython" && pwd)
# the port manifests require() micropython-lib packages: a git checkout has them as a
# submodule, Debian's source package does not
need_micropython_lib() {
    [ -d "$micropython/lib/micropython-lib/micropython" ] ||
        fail "$board needs micropython-lib in $micropython/lib/micropython-lib" \
            "(git submodule update --init lib/micropython-lib)"
}

case $mcu in
esp8266)
    # Debian's gcc-xtensa-lx106 is the compiler only; the port also needs Espressif's
    # NONOS SDK (the esp-open-sdk toolchain has both)
    if ! command -v xtensa-lx106-elf-gcc >/dev/null ||
        ! echo '#include <user_interface.h>' | xtensa-lx106-elf-gcc -E - >/dev/null 2>&1; then
        fail "$board needs the ESP8266 SDK: the esp-open-sdk toolchain (xtensa-lx106-elf-gcc" \
            "with Espressif's NONOS SDK headers) on PATH; see ports/esp8266/README.md"
    fi
    need_micropython_lib
    make -C "$micropython/mpy-cross"
    make -C "$micropython/ports/esp8266" -j"$(nproc)" BOARD_DIR="$root/boards/$board" \
        BUILD="$root/build/firmware/build-$board"
    ;;
esp32)
    if [ -z "${IDF_PATH:-}" ] || ! command -v idf.py >/dev/null; then
        fail "$board needs ESP-IDF (5.2 to 5.4 for MicroPython 1.25): install it and" \
            "'source export.sh' (IDF_PATH and idf.py); see ports/esp32/README.md"
    fi
    need_micropython_lib
    make -C "$micropython/mpy-cross"
    make -C "$micropython/ports/esp32" BOARD_DIR="$root/boards/$board" \
        BUILD="$root/build/firmware/build-$board"
    ;;
*)
    fail "$board is a $mcu: nothing to build (it runs on the unix port)"
    ;;
esac
install -D "$root/build/firmware/build-$board/firmware.bin" "$root/build/firmware/$board.bin"
echo "make firmware: build/firmware/$board.bin; flash it with" \
    "tools/flash.py flash --board $board --port PORT --firmware build/firmware/$board.bin"
