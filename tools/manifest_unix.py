# Frozen into the unix-port builds what stock ESP firmware has frozen: asyncio and
# umqtt.simple (fetched by `make umqtt`).
include("$(MPY_DIR)/extmod/asyncio")
package("umqtt", base_path="../build/umqtt")
