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
    # Debian's gcc-xtensa-lx106 and binutils are the toolchain; Espressif's NONOS SDK,
    # esp-open-lwip and the port's submodules come from pinned archives (SOURCES)
    command -v xtensa-lx106-elf-gcc >/dev/null ||
        fail "$board needs xtensa-lx106-elf-gcc: apt-get install gcc-xtensa-lx106" \
            "binutils-xtensa-lx106 picolibc-xtensa-lx106-elf (make deps)"
    [ -d /usr/lib/xtensa-lx106-elf/include ] ||
        fail "$board needs picolibc's headers: apt-get install picolibc-xtensa-lx106-elf"
    sdk=$root/build/esp8266
    "$root/tools/esp8266_sdk.sh" "${SOURCES:-}" "$micropython" "$sdk"
    for f in include/user_interface.h include/esp_sdk_ver.h lib/libmain.a lib/liblwip_open.a \
        lib/libwpa.a include/lwipopts.h; do
        [ -f "$sdk/sdk/$f" ] || fail "the assembled SDK lacks $f: remove $sdk and run again"
    done
    need_micropython_lib
    # The port's linker script sends code to flash (irom0) by object path; aesgcm's
    # objects and the frozen viper code match no rule and would fill the 32 KiB IRAM
    # (it overflows by 5.4 KB): route them to irom0 too, in a copy of the port's script.
    ld=$root/build/firmware/$board.ld
    mkdir -p "$(dirname "$ld")"
    port=$micropython/ports/esp8266
    sed 's#^\( *\)\*extmod/\*\.o\*(\.literal\* \.text\*)#&\n\1*/aesgcm/*.o(.literal* .text*)\n\1*/frozen_content.o(.literal* .text*)#' \
        "$port/boards/esp8266_common.ld" >"${ld%.ld}_common.ld"
    grep -q 'frozen_content.o' "${ld%.ld}_common.ld" ||
        fail "the port's esp8266_common.ld changed: cannot route aesgcm and frozen code"
    sed "s#^INCLUDE boards/esp8266_common.ld#INCLUDE ${ld%.ld}_common.ld#" \
        "$port/boards/esp8266_2MiB.ld" >"$ld"
    make -s -C "$micropython/mpy-cross"
    make -C "$port" -j"$(nproc)" BOARD_DIR="$root/boards/$board" \
        BUILD="$root/build/firmware/build-$board" ESP_SDK="$sdk/sdk" LD_FILES="$ld" \
        ESPTOOL="${ESPTOOL:-esptool.py}" \
        CFLAGS_EXTRA="-isystem $sdk/sdk/include -D__PICOLIBC_ERRNO_FUNCTION=__errno -fcommon \
-Wno-array-bounds -Wno-unused-const-variable"
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
