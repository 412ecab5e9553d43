// LOLIN D1 mini pro on a SmartyReader PCB (see mpconfigboard.mk).
#define MICROPY_HW_BOARD_NAME "LOLIN D1 mini pro (SmartyReader)"
#define MICROPY_HW_MCU_NAME "ESP8266"

// .mpy files (the aesgcm natmod among them), viper (the GHASH and CRC tiers)
#define MICROPY_PERSISTENT_CODE_LOAD (1)
#define MICROPY_EMIT_XTENSA (1)
#define MICROPY_EMIT_INLINE_XTENSA (1)

#define MICROPY_ERROR_REPORTING (MICROPY_ERROR_REPORTING_NORMAL)

#define MICROPY_READER_VFS (MICROPY_VFS)
#define MICROPY_VFS (1)

#define MICROPY_PY_CRYPTOLIB (1)
