#!/usr/bin/env python3
"""`make demo`: a simulated Smarty (a real Luxembourg telegram from the test data,
encrypted as the meter does) on a pty -> the firmware on the MicroPython unix port ->
a local Mosquitto -> the station (SQLite, day files, its web page) and the values,
live, until Ctrl-C."""

import json
from decimal import Decimal
import os
import signal
import subprocess
import sys
import tempfile
import time

import p1harness as h

KEY = "5b8f3a2c9d1e4f6071829304a5b6c7d8"  # the demo meter's key


def ensure_mosquitto():
    if h.mosquitto_binary():
        return
    if os.geteuid() == 0:
        print("demo: installing mosquitto (Debian) ...", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "mosquitto", "mosquitto-clients"],
            check=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        )
    else:
        sys.exit("demo: mosquitto is missing: run 'sudo make deps' (or make demo as root)")


def show(topic, payload):
    if topic.endswith("/state"):
        s = json.loads(payload, parse_float=Decimal)
        print(
            f"{s.get('timestamp')}  import {s.get('energy_import')} kWh"
            f"  export {s.get('energy_export')} kWh  net power {s.get('net_power')} kW"
            f"  L1 {s.get('voltage_l1')} V  (today: +"
            f"{s.get('energy_import_today')} / -{s.get('energy_export_today')} kWh)",
            flush=True,
        )
    elif topic.endswith("/diag"):
        d = json.loads(payload)
        print(
            f"  diag: {d['frames_ok']} frames ok, {d['auth_failures']} auth failures, "
            f"{d['crc_failures']} CRC failures, backend {d['backend']}, "
            f"free heap {d['free_heap_after_gc'] or '?'} B after a collection",
            flush=True,
        )
    elif topic.endswith("/status"):
        print(f"  status: {payload}", flush=True)


def start_station(directory, broker_port, web_port):
    """smarty-station run (build/venv) on the demo's broker, its page on web_port."""
    config = os.path.join(directory, "station.toml")
    with open(config, "w") as f:
        f.write(
            f'[mqtt]\nhost = "127.0.0.1"\nport = {broker_port}\ntopic = "smartyreader"\n'
            '[store]\npath = "smarty.sqlite"\nday_files = "data"\narchive = "archive"\n'
            f'[web]\nhost = "127.0.0.1"\nport = {web_port}\nrefresh = 5\n'
        )
    command = [os.path.join(os.path.dirname(sys.executable), "smarty-station")]
    return h.Process(command + ["run", "--config", config], os.path.join(directory, "station.log"))


def main():
    ensure_mosquitto()
    with tempfile.TemporaryDirectory(prefix="smarty-demo-") as tmp:
        processes = []
        try:
            broker = h.Broker(tmp).start()
            processes.append(broker)
            print(f"demo: Mosquitto on 127.0.0.1:{broker.port}", flush=True)
            sim = h.Simulator(tmp, KEY, interval=float(os.environ.get("DEMO_INTERVAL", "5")))
            processes.append(sim)
            print(
                f"demo: simulated Smarty on {sim.link} (one frame every "
                f"{os.environ.get('DEMO_INTERVAL', '5')} s)",
                flush=True,
            )
            config = h.firmware_config(
                os.path.join(tmp, "config.json"), KEY, broker.port, sim.link
            )
            # As on the ESP8266: the application frozen, the board's 36 KB heap (the
            # diag's free heap is then the board's).
            firmware = h.Firmware(
                tmp, config, runtime="micropython32", frozen=True, heapsize="36k"
            )
            processes.append(firmware)
            sub = h.Subscriber(
                tmp,
                broker.port,
                topics=("smartyreader/state", "smartyreader/diag", "smartyreader/status"),
            )
            processes.append(sub)
            station_port = h.free_port()
            station = start_station(tmp, broker.port, station_port)
            processes.append(station)
            print(
                f"demo: the station's web page: http://127.0.0.1:{station_port}/ "
                f"(SQLite and day files in {tmp})",
                flush=True,
            )
            print(
                "demo: firmware on micropython32, frozen as in the ESP8266 image, in its 36 KB"
                " heap; values as they arrive (Ctrl-C to stop)\n",
                flush=True,
            )
            seen = 0
            while True:
                messages = sub.messages()
                for topic, payload in messages[seen:]:
                    show(topic, payload)
                seen = len(messages)
                for name, process in (("firmware", firmware.process), ("station", station)):
                    if not process.alive():
                        print(f"demo: the {name} stopped:\n" + process.text()[-2000:])
                        return 1
                time.sleep(0.2)
        except KeyboardInterrupt:
            print("\ndemo: stopping")
            return 0
        finally:
            for p in reversed(processes):
                p.stop()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())
