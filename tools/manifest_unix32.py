# Frozen into micropython32 what the ESP8266 custom image has frozen
# (boards/lolin_d1_mini_pro/manifest.py): the ESP8266 port's list
# (ports/esp8266/boards/manifest.py, spelled out here because its $(PORT_DIR) would be
# the unix port's), asyncio, umqtt.simple, then the application.
freeze("$(MPY_DIR)/ports/esp8266/modules")
require("bundle-networking")
require("dht")
require("ds18x20")
require("neopixel")
require("onewire")
include("$(MPY_DIR)/extmod/asyncio")
require("umqtt.simple")
include("../firmware/manifest.py")
include("manifest_models.py")
