# `aesgcm` as a user C module for make-based ports (unix, esp8266):
#   make USER_C_MODULES=<repo>/cmodules
AESGCM_MOD_DIR := $(USERMOD_DIR)

# gcm.c has no MicroPython names, so it skips the qstr scan.
SRC_USERMOD_LIB_C += $(AESGCM_MOD_DIR)/gcm.c
SRC_USERMOD_C += $(AESGCM_MOD_DIR)/modaesgcm.c
CFLAGS_USERMOD += -I$(AESGCM_MOD_DIR)
