#!/usr/bin/env python3
"""`make demo`: a simulated Smarty (a real Luxembourg telegram from the test data,
encrypted as the meter does) on a pty -> the firmware on the MicroPython unix port ->
a local Mosquitto -> the values, live, until Ctrl-C."""

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
            f"free heap {d['free_heap']}",
            flush=True,
        )
    elif topic.endswith("/status"):
        print(f"  status: {payload}", flush=True)


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
            firmware = h.Firmware(tmp, config, runtime="micropython32")
            processes.append(firmware)
            sub = h.Subscriber(
                tmp,
                broker.port,
                topics=("smartyreader/state", "smartyreader/diag", "smartyreader/status"),
            )
            processes.append(sub)
            print(
                "demo: firmware on micropython32; values as they arrive (Ctrl-C to stop)\n",
                flush=True,
            )
            seen = 0
            while True:
                messages = sub.messages()
                for topic, payload in messages[seen:]:
                    show(topic, payload)
                seen = len(messages)
                if not firmware.process.alive():
                    print("demo: the firmware stopped:\n" + firmware.log()[-2000:])
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
