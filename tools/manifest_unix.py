# Frozen into the unix-port builds what stock ESP firmware has frozen: asyncio, and
# umqtt.simple and ssl from micropython-lib 1.25.0 (`make umqtt` unpacks it).
include("$(MPY_DIR)/extmod/asyncio")
package("umqtt", base_path="../build/micropython-lib-1.25.0/micropython/umqtt.simple")
module("ssl.py", base_path="../build/micropython-lib-1.25.0/python-stdlib/ssl")
