"""SmartyReader's station: collect a Smarty meter's readings into SQLite, day files,
plots, a web page and a daily mail; or read a USB P1 cable (`smarty-station read`)."""

import logging

log = logging.getLogger("smarty_station")
