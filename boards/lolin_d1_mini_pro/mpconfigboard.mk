# LOLIN D1 mini pro (ESP8266, 16 MB flash) on a SmartyReader PCB: a 2 MiB image like
# the port's generic board, the rest of the flash for the filesystem; the aesgcm C
# module compiled in and the application frozen (it then costs no heap).
LD_FILES = boards/esp8266_2MiB.ld

MICROPY_PY_ESPNOW ?= 0
MICROPY_PY_BTREE ?= 0
MICROPY_VFS_FAT ?= 1
MICROPY_VFS_LFS2 ?= 1

FROZEN_MANIFEST ?= $(BOARD_DIR)/manifest.py
USER_C_MODULES ?= $(abspath $(BOARD_DIR)/../../cmodules)

CFLAGS += -DMICROPY_ESP8266_2M
