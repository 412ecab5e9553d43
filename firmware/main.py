# SmartyReader firmware: read the Smarty meter's P1 port, publish over MQTT; setup mode
# (WiFi access point and setup shell) while the config is not complete.
# On a board: config.json and board.json beside this file.  On a host (unix port):
#   micropython main.py [CONFIG.json [BOARD.json]] [--setup] [--setup-port=N]
# (tools/p1.py run does this; exit status 3 after a crash, where a board resets).
# Setup mode from the REPL:
#   from smartyreader.start import main; main(setup=True)
import sys

from smartyreader.start import run

paths, options = [], {}
for arg in getattr(sys, "argv", [])[1:]:
    if arg.startswith("--"):
        name, _, value = arg[2:].partition("=")
        options[name.replace("-", "_")] = int(value) if value else True
    else:
        paths.append(arg)
status = run(*paths[:2], **options)
if status:
    sys.exit(status)
