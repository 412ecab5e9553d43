# Frozen into micropython32-stock what a stock ESP32 image (ESP32_GENERIC, MicroPython
# 1.25.0) has frozen: the list of ports/esp32/boards/manifest.py, spelled out here because
# its $(PORT_DIR) would be the unix port's.  Their names are the image's (static qstrs),
# so the application's names that match them take no room on the heap, as on the board.
freeze("$(MPY_DIR)/ports/esp32/modules")
include("$(MPY_DIR)/extmod/asyncio")
require("bundle-networking")
require("aioespnow")
require("dht")
require("ds18x20")
require("neopixel")
require("onewire")
require("umqtt.robust")
require("umqtt.simple")
require("upysh")
include("manifest_models.py")
