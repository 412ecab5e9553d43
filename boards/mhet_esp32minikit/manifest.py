# Frozen into a custom MicroPython firmware for this board (make firmware BOARD=...):
# the ESP32 port's manifest (it freezes asyncio and umqtt.simple), then the application.
include("$(PORT_DIR)/boards/manifest.py")
include("$(BOARD_DIR)/../../firmware/manifest.py")
