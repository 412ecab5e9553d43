"""smarty-station: a SmartyReader station (see README.md, "The station")."""

# The command line: smarty-station run|plot|mail|read --config FILE.  A bad or missing
# config key: its message and exit status 2.

import argparse
import logging
import signal
import sys
import threading
from datetime import date
from pathlib import Path

from . import config as config_file

EXIT_CONFIG = 2


def _date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def parser():
    p = argparse.ArgumentParser(prog="smarty-station", description=__doc__)
    commands = p.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="collect, serve the web page, send the daily mail")
    plot = commands.add_parser("plot", help="a day's plot as a PNG file")
    plot.add_argument("--date", type=_date, required=True)
    plot.add_argument("--out", type=Path, help="default: smarty_YYYY-MM-DD.png")
    mail = commands.add_parser("mail", help="send a day's mail now")
    mail.add_argument("--date", type=_date, required=True)
    read = commands.add_parser("read", help="read a P1 cable and publish as the firmware does")
    for command in (run, plot, mail, read):
        command.add_argument("--config", type=Path, required=True, metavar="FILE")
        command.add_argument("-v", "--verbose", action="store_true")
    return p


def _stop_on_signals():
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    return stopping


def main(argv=None):
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = config_file.load(args.config)
        needed = {"run": "store", "plot": "store", "mail": "mail", "read": "read"}[args.command]
        if getattr(config, needed) is None:
            table = "[serial] (or [[meters]])" if needed == "read" else f"[{needed}]"
            raise config_file.ConfigError(f"{table} is missing (needed by {args.command})")
        if args.command == "mail" and config.store is None:
            raise config_file.ConfigError("[store] is missing (needed by mail)")
    except config_file.ConfigError as e:
        print(f"smarty-station: config: {e}", file=sys.stderr)
        return EXIT_CONFIG
    return globals()["_" + args.command](config, args)


def _run(config, args):
    from .service import Station

    Station(config).run(_stop_on_signals())
    return 0


def _plot(config, args):
    from . import plot
    from .store import Store

    store = Store(config.store.path)
    newest = store.latest()
    if newest is None:
        print("smarty-station: no readings in the store", file=sys.stderr)
        return 1
    png = plot.day_png(
        args.date, store.day(newest.meter, args.date), store.baseline(newest.meter, args.date)
    )
    out = args.out or Path(f"smarty_{args.date.isoformat()}.png")
    out.write_bytes(png)
    print(out)
    return 0


def _mail(config, args):
    import time

    from . import mail
    from .store import Store

    store = Store(config.store.path)
    try:
        mail.send(config.mail, mail.compose(config.mail, store, args.date))
    except mail.MailError as e:
        print(f"smarty-station: {e}", file=sys.stderr)
        return 1
    store.mark_mailed(args.date, int(time.time()))
    print(f"mailed {args.date} to {', '.join(config.mail.to)}")
    return 0


def _read(config, args):
    from .p1read import read_all

    read_all(config.read, config.mqtt, _stop_on_signals())
    return 0
