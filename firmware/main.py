# SmartyReader firmware: read the Smarty meter's P1 port, publish over MQTT.
# On a board: config.json and board.json beside this file.  On a host (unix port):
#   micropython main.py CONFIG.json BOARD.json   (tools/p1.py run does this)
import sys

from smartyreader.app import main

status = main(*(getattr(sys, "argv", [])[1:3]))
if status:
    sys.exit(status)
