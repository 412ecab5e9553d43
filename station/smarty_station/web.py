# The web pages: a Flask application (served by waitress, see serve()).
#   /                    today: the newest values, refreshed by the page itself, the plot
#   /latest.json         what / refreshes from
#   /day/YYYY-MM-DD      a day's totals and plot, previous/next links   (.png, .csv)
#   /month/YYYY-MM       energy per day                                  (.png)
# Each thread of the server reads through its own Store (SQLite WAL: readers and the
# collector's writes do not block each other).  Bad dates: 404 with a message.

import threading
from calendar import monthrange
from datetime import date

from flask import Flask, Response, abort, jsonify, render_template, request

from . import plot, report
from .readings import digits
from .store import Store

FIELDS = (
    ("energy_import", "energy imported (register)", "kWh"),
    ("energy_export", "energy exported (register)", "kWh"),
    ("power_import", "power imported", "kW"),
    ("power_export", "power exported", "kW"),
    ("net_power", "net power", "kW"),
    ("energy_import_today", "imported today", "kWh"),
    ("energy_export_today", "exported today", "kWh"),
    ("gas", "gas (register)", "m³"),
)


def _parse_day(text):
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    abort(404, f"{text!r} is not a date (YYYY-MM-DD)")


def _parse_month(text):
    try:
        if len(text) == 7 and text[4] == "-":
            return date(int(text[:4]), int(text[5:]), 1)
    except ValueError:
        pass
    abort(404, f"{text!r} is not a month (YYYY-MM)")


def _shift_month(month, months):
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def create_app(store_path, refresh=10):
    app = Flask(__name__)
    local = threading.local()

    def store():
        if getattr(local, "store", None) is None:
            local.store = Store(store_path)
        return local.store

    def meter():
        name = request.args.get("meter")
        if name:
            if name not in store().meters():
                abort(404, f"no meter {name!r}")
            return name
        newest = store().latest()
        if newest is None:
            abort(404, "no readings yet")
        return newest.meter

    @app.errorhandler(404)
    def not_found(error):
        return Response(f"{error.description}\n", 404, mimetype="text/plain")

    @app.get("/latest.json")
    def latest_json():
        newest = store().latest()
        baseline = store().baseline(newest.meter, newest.day) if newest else (None, None)
        return jsonify(report.latest(newest, baseline))

    @app.get("/")
    def today():
        newest = store().latest()
        baseline = store().baseline(newest.meter, newest.day) if newest else (None, None)
        return render_template(
            "today.html",
            latest=report.latest(newest, baseline),
            fields=FIELDS,
            refresh=refresh,
        )

    @app.get("/day/<spec>")
    def day(spec):
        stem, dot, kind = spec.partition(".")
        if kind not in ("", "png", "csv"):
            abort(404, f"no such page: /day/{spec}")
        the_day = _parse_day(stem)
        name = meter()
        if kind == "csv":
            text = report.csv_text(store().day_csv(name, the_day))
            headers = {"Content-Disposition": f"inline; filename={the_day}.csv"}
            return Response(text, mimetype="text/csv", headers=headers)
        baseline = store().baseline(name, the_day)
        if kind == "png":
            png = plot.day_png(the_day, store().day(name, the_day), baseline)
            return Response(png, mimetype="image/png")
        previous, following = report.neighbours(the_day)
        return render_template(
            "day.html",
            meter=name,
            day=the_day,
            previous=previous,
            next=following,
            totals=report.day_totals(store().day_summary(name, the_day), baseline),
            digits=digits,
        )

    @app.get("/month/<spec>")
    def month(spec):
        stem, dot, kind = spec.partition(".")
        if kind not in ("", "png"):
            abort(404, f"no such page: /month/{spec}")
        first = _parse_month(stem)
        last = first.replace(day=monthrange(first.year, first.month)[1])
        name = meter()
        days = store().days(name, first, last)
        if kind == "png":
            return Response(plot.month_png(first, days), mimetype="image/png")
        return render_template(
            "month.html",
            meter=name,
            month=stem,
            previous=_shift_month(first, -1).strftime("%Y-%m"),
            next=_shift_month(first, 1).strftime("%Y-%m"),
            days=days,
            total_import=sum(d[1] or 0 for d in days),
            total_export=sum(d[2] or 0 for d in days),
            digits=digits,
        )

    return app


def serve(app, host, port):
    """A waitress server for the app (call .run() in a thread, .close() to stop)."""
    from waitress.server import create_server

    return create_server(app, host=host, port=port, threads=4, ident="smarty-station")
