# Frozen into a custom MicroPython firmware for this board (make firmware BOARD=...):
# the ESP8266 port's own modules, then what the application needs that the port's
# manifest does not freeze (asyncio, umqtt.simple), then the application.
include("$(PORT_DIR)/boards/manifest.py")
include("$(MPY_DIR)/extmod/asyncio")
require("umqtt.simple")
include("$(BOARD_DIR)/../../firmware/manifest.py")
