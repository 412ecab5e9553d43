// MH-ET LIVE ESP32MiniKit on a SmartyReader PCB (see mpconfigboard.cmake).
#define MICROPY_HW_BOARD_NAME "MH-ET LIVE ESP32MiniKit (SmartyReader)"
#define MICROPY_HW_MCU_NAME "ESP32"

// No Bluetooth: the board's sdkconfig (sdkconfig.base only, no sdkconfig.ble) does not
// configure NimBLE, so the module must be off too, as on the port's BLE-less boards.
#define MICROPY_PY_BLUETOOTH (0)
