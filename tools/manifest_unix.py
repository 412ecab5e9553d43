# Frozen into micropython (64-bit) what the application needs of what the ESP images
# freeze: asyncio, and umqtt.simple and ssl from micropython-lib 1.25.0 (`make umqtt`
# unpacks it).  The 32-bit builds freeze a board image's whole list
# (tools/manifest_unix32.py, tools/manifest_stock.py).
include("$(MPY_DIR)/extmod/asyncio")
package("umqtt", base_path="../build/micropython-lib-1.25.0/micropython/umqtt.simple")
module("ssl.py", base_path="../build/micropython-lib-1.25.0/python-stdlib/ssl")
