# MicroPython manifest of the application: what a firmware image freezes (the board
# manifests and tools/manifest_unix32.py include this file).  Frozen code runs from flash
# and costs no heap (main.py stays a file on the board: tools/flash.py deploy copies it).
# Exactly the modules the firmware imports: host_tests/test_boards.py
# checks this list against main.py's imports (gcm_cpython is for CPython only).
package(
    "smarty",
    files=(
        "__init__.py",
        "crc_viper.py",
        "dsmr.py",
        "errors.py",
        "framer.py",
        "gcm.py",
        "gcm_base.py",
        "gcm_pure.py",
        "gcm_viper.py",
        "jsonout.py",
        "keys.py",
        "obis.py",
        "reader.py",
        "values.py",
    ),
    base_path="lib",
)
package(
    "smartyreader",
    files=(
        "__init__.py",
        "app.py",
        "assemble.py",
        "boot.py",
        "broker.py",
        "config.py",
        "discovery.py",
        "hw.py",
        "net.py",
        "publish.py",
        "publisher.py",
        "queue.py",
        "receiver.py",
        "serialdev.py",
        "setup.py",
        "shell.py",
        "start.py",
        "tls.py",
        "today.py",
        "wifisetup.py",
    ),
    base_path="lib",
)
