// MH-ET LIVE ESP32MiniKit on a SmartyReader PCB (see mpconfigboard.cmake).
#define MICROPY_HW_BOARD_NAME "MH-ET LIVE ESP32MiniKit (SmartyReader)"
#define MICROPY_HW_MCU_NAME "ESP32"
