#!/bin/sh
# Compile the aesgcm module's objects with the ESP8266 port's flags (no SDK needed)
# and report their size.  The genhdr headers are generated from the module's own
# sources, the way py/mkrules.mk does for a whole port.
#   tools/check_esp8266.sh MICROPYTHON_DIR MODULE_DIR OUT_DIR
set -eu
mp=$1 mod=$2 out=$3
cc=xtensa-lx106-elf-gcc
if ! command -v $cc >/dev/null; then
    echo "check-esp8266: $cc not found (Debian package gcc-xtensa-lx106; run 'make deps')" >&2
    exit 1
fi
hdr=$out/genhdr
mkdir -p "$hdr"
# The port's flags (ports/esp8266/Makefile), board ESP8266_GENERIC.
cflags="-I$mp/ports/esp8266 -I$mp/ports/esp8266/boards/ESP8266_GENERIC -I$mp -I$out -I$mod
    -std=gnu99 -nostdlib -specs=/usr/lib/xtensa-lx106-elf/picolibc.specs -Wall -Wpointer-arith -Werror -Os -DNDEBUG
    -fsingle-precision-constant -Wdouble-promotion -mlongcalls -mtext-section-literals -mforce-l32
    -D__ets__ -DICACHE_FLASH -DMICROPY_ROM_TEXT_COMPRESSION=1 -fdata-sections -ffunction-sections"
sources="$mod/modaesgcm.c"
py="python3 $mp/py"

$py/makeversionhdr.py "$hdr/mpversion.h" >/dev/null
# shellcheck disable=SC2086
$py/makeqstrdefs.py pp $cc -E output "$hdr/qstr.i.last" cflags $cflags -DNO_QSTR cxxflags \
    sources $sources dependencies changed_sources $sources
for kind in qstr compress root_pointer module; do
    $py/makeqstrdefs.py split $kind "$hdr/qstr.i.last" "$hdr/$kind" _
    $py/makeqstrdefs.py cat $kind _ "$hdr/$kind" "$hdr/$kind.collected"
done
# shellcheck disable=SC2086
cat "$mp/py/qstrdefs.h" "$hdr/qstr.collected" | sed 's/^Q(.*)/"&"/' | $cc -E $cflags - |
    sed 's/^"\(Q(.*)\)"/\1/' > "$hdr/qstrdefs.preprocessed.h"
$py/makeqstrdata.py "$hdr/qstrdefs.preprocessed.h" > "$hdr/qstrdefs.generated.h"
$py/makecompresseddata.py "$hdr/compress.collected" > "$hdr/compressed.data.h"
$py/make_root_pointers.py "$hdr/root_pointer.collected" > "$hdr/root_pointers.h"
$py/makemoduledefs.py "$hdr/module.collected" "$hdr/moduledefs.h" 2>/dev/null ||
    $py/makemoduledefs.py "$hdr/module.collected" > "$hdr/moduledefs.h"

objects=""
for src in "$mod/gcm.c" "$mod/modaesgcm.c"; do
    obj=$out/$(basename "$src" .c).o
    # shellcheck disable=SC2086
    $cc $cflags -c "$src" -o "$obj"
    objects="$objects $obj"
done
# shellcheck disable=SC2086
xtensa-lx106-elf-size -t $objects
# shellcheck disable=SC2086
total=$(xtensa-lx106-elf-size -t $objects | awk 'END {print $4}')
echo "check-esp8266: aesgcm objects compile for ESP8266 ($total bytes text+data+bss)"
