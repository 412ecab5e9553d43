# MH-ET LIVE ESP32MiniKit (ESP32-WROOM-32, 4 MB flash) on a SmartyReader PCB: the port's
# base configuration without Bluetooth (not used: its RAM is the heap's), the aesgcm C
# module compiled in and the application frozen (it then costs no heap).
set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
)

if(NOT MICROPY_FROZEN_MANIFEST)
    set(MICROPY_FROZEN_MANIFEST ${MICROPY_BOARD_DIR}/manifest.py)
endif()

if(NOT USER_C_MODULES)
    get_filename_component(USER_C_MODULES
        ${MICROPY_BOARD_DIR}/../../cmodules/micropython.cmake ABSOLUTE)
endif()
