#!/bin/bash
# tools/esp8266_sdk.sh SOURCES MICROPY_DIR OUT
#
# What MicroPython 1.25's ESP8266 port needs besides Debian's xtensa-lx106 gcc and
# binutils, assembled from pinned source archives the way esp-open-sdk assembles it:
#   OUT/sdk      Espressif's NONOS SDK 2.1.0-18 (headers and libraries; ESP_SDK=),
#                liblwip_open.a built from esp-open-lwip, libcrypto merged into libwpa,
#                user_rf_cal_sector_set.o in libmain, and an assert.h that keeps
#                picolibc's declaration of __assert out of the port's way;
#   MICROPY_DIR/lib/{micropython-lib,axtls,berkeley-db-1.xx}   the port's submodules.
# SOURCES is a directory of the archives (tools/sources.sha256 names them and
# pins their sha256; README says where each comes from).  Nothing is downloaded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sources=$1
micropython=$2
out=$3

fail() {
    echo "esp8266 sdk: $*" >&2
    exit 2
}

[ -d "$sources" ] || fail "no source cache at '$sources': SOURCES=<directory of the archives" \
    "in tools/sources.sha256> (see README, 'Building the ESP8266 image')"
while read -r sum name; do
    [ -f "$sources/$name" ] || fail "$sources/$name is missing (see README for its origin)"
    echo "$sum  $sources/$name" | sha256sum -c --quiet - ||
        fail "$sources/$name does not match its pinned sha256"
done <"$root/tools/sources.sha256"

stamp=$out/.assembled
if [ -f "$stamp" ] && [ "$stamp" -nt "$0" ] && [ -f "$micropython/lib/axtls/README" ]; then
    exit 0
fi
rm -rf "$out"
mkdir -p "$out/src"
for archive in $(awk '{print $2}' "$root/tools/sources.sha256"); do
    tar -C "$out/src" -xJf "$sources/$archive"
done
src=$out/src
nonos=$(echo "$src"/ESP8266_NONOS_SDK-*)
opensdk=$(echo "$src"/esp-open-sdk-*)
lwip=$(echo "$src"/esp-open-lwip-*)

sdk=$out/sdk
mkdir -p "$sdk"
cp -a "$nonos/include" "$nonos/lib" "$sdk/"
rm -f "$sdk/lib/libgcc.a" # Debian's gcc brings its own
printf '#undef ESP_SDK_VERSION\n#define ESP_SDK_VERSION 020100\n' >>"$sdk/include/esp_sdk_ver.h"
patch -s -d "$sdk" -p1 <"$opensdk/c_types-c99_sdk_2.patch"
(
    mkdir -p "$out/wpa" && cd "$out/wpa"
    xtensa-lx106-elf-ar x "$sdk/lib/libcrypto.a"
    xtensa-lx106-elf-ar rs "$sdk/lib/libwpa.a" ./*.o
)
xtensa-lx106-elf-gcc -O2 -I"$sdk/include" -c "$opensdk/user_rf_cal_sector_set.c" \
    -o "$out/user_rf_cal_sector_set.o"
xtensa-lx106-elf-ar r "$sdk/lib/libmain.a" "$out/user_rf_cal_sector_set.o"
make -s -C "$lwip" -f Makefile.open -j"$(nproc)" CC=xtensa-lx106-elf-gcc AR=xtensa-lx106-elf-ar \
    CFLAGS_EXTRA="-isystem $sdk/include -Wno-implicit-function-declaration -Wno-int-conversion"
cp "$lwip/liblwip_open.a" "$sdk/lib/"
cp -a "$lwip/include/arch" "$lwip/include/lwip" "$lwip/include/netif" \
    "$lwip/include/lwipopts.h" "$sdk/include/"
cp "$root/boards/lolin_d1_mini_pro/sdk_assert.h" "$sdk/include/assert.h"

for sub in micropython-lib axtls berkeley-db-1.xx; do
    rm -rf "${micropython:?}/lib/$sub"
    mv "$(echo "$src/$sub"-[0-9]*)" "$micropython/lib/$sub"
done
touch "$stamp"
echo "esp8266 sdk: $sdk assembled; submodules in $micropython/lib"
