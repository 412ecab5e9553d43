# The meter reader (app.App) put together from the validated config.  With boot.py the
# only module that reads the config: each part gets its settings as plain arguments.
# Used once per start and dropped by start.py after: with the application as .mpy files
# in RAM, its code is heap the reader needs.

import gc

from . import beside, forget, hw, log
from .start import P1_FAILED


def reader(config_path, board, cfg, wifi, shell_port=None):
    """The meter reader of a validated config (app.App) and the station shell on
    shell_port (setup.Server; None without), or P1_FAILED."""
    from .queue import SLOT_BYTES, Queue

    meters = cfg["meters"]
    n = len(meters)
    # The big buffers first, while the heap is in one piece, before the reader's code
    # comes in: a frame buffer per meter, the queue's RAM slots (one per meter, two at
    # most: the next reading waits on flash if the broker has not taken these; two
    # meters' frames may come at once, five rarely do), the UARTs' receive rings (on
    # the GC heap of an ESP8266).
    frames = [bytearray(cfg["buffer"]["frame_bytes"]) for _ in range(n)]
    slots = bytearray(SLOT_BYTES * min(n, 2))
    ports = []
    for number, m in enumerate(meters, 1):
        try:
            ports.append(hw.P1Port(m["uart"], hw.Output(**m["data_request"]), number == 1))
        except (OSError, ValueError, TypeError) as e:  # the settings must change: setup mode
            where = " of meters.%d" % number if n > 1 else ""
            log("cannot open the P1 port%s: %s" % (where, e))
            return P1_FAILED
        if n > 1:
            line = m["uart"]["device"] or "UART %s" % m["uart"]["id"]
            log("meters.%d: %s, on %s" % (number, line, m["topic"]))
    # The code next, a collection before each batch of modules: loaded from .mpy files
    # (stock firmware), each load leaves garbage the next one would build around, and
    # the heap ends up too fragmented for the objects that follow.
    gc.collect()
    from smarty.gcm import LUXEMBOURG_AUTH_KEY
    from smarty.keys import key_id, parse_key
    from smarty.reader import Reader

    readers = []  # the decryption contexts next, while there is room in one piece
    keys = []  # each meter's key id: its frame counters are kept under it
    for m, frame in zip(meters, frames):
        auth = m["auth_key"]
        key = parse_key(m["key"])
        keys.append(key_id(key))
        readers.append(
            Reader(
                key,
                parse_key(auth, "auth key") if auth else LUXEMBOURG_AUTH_KEY,
                buffer=frame,
            )
        )
    parse_key = key_id = key = frame = None
    forget("smarty.keys")  # the keys are parsed: its code is heap
    gc.collect()
    from . import broker, net
    from .app import App, Meter
    from .publish import Payloads
    from .publisher import Publisher
    from .receiver import Receiver, ReplayGuard

    if net.network is not None:
        # An ESP8266 comes with its access point on (a fresh flash: ports/esp8266/modules/
        # inisetup.py names it, with a published password) and keeps its mode in flash: off
        # while the meter is read
        ap = net.network.WLAN(net.network.AP_IF)
        if ap.active():
            ap.active(False)

    # What the reader loads later for a moment (discovery at each connection, today once
    # a day), loaded now and dropped: as .mpy files their names stay on the heap once
    # loaded, and if they need a new pool of names (py/qstr.c: 640 entries, 4.5 KB in one
    # piece), it is found now, while the heap is still in one piece.
    for name in ("smartyreader.discovery", "smartyreader.today"):
        __import__(name)
        forget(name)
    gc.collect()
    queue = Queue(
        beside(config_path, "queue"),
        slots=len(slots) // SLOT_BYTES,
        max_readings=cfg["buffer"]["readings"],
        buf=slots,
    )
    path = beside(config_path, "counters.txt")
    guard = ReplayGuard(path, keys, kept_counters(path, keys))
    led = hw.Output(**cfg["status_led"])
    watchdog = hw.Watchdog()
    gc.collect()  # the queue's recovery read its files: their garbage, before the meters'
    mqtt = cfg["mqtt"]
    legacy, discovery = mqtt["legacy"], mqtt["discovery"]
    outlets = []
    for number, (m, port, reader) in enumerate(zip(meters, ports, readers)):
        suffix = "" if number == 0 else "-%d" % (number + 1)  # sensors.txt, sensors-2.txt...
        receiver = Receiver(
            port,
            reader,
            guard,
            Payloads(legacy=legacy),
            queue,
            beside(config_path, "sensors%s.txt" % suffix) if discovery else None,
            led,
            watchdog,
            number,
            n == 1,
            beside(config_path, "today%s.txt" % suffix),
        )
        outlets.append(
            Meter(receiver, m["topic"], m["legacy_topic"] if legacy else None, m["name"])
        )
    status = mqtt["topic"] + "/status"  # the reader's availability (its last will)
    client_id = mqtt["client_id"] or "smartyreader-" + net.mac_suffix()
    publisher = Publisher(
        broker.from_config(mqtt, client_id, status),
        queue,
        wifi,
        outlets,
        status,
        mqtt["per_field"],
        mqtt["discovery_prefix"] if discovery else None,
        cfg["diag"]["interval"],
        mqtt["keepalive"],
    )
    app = App(outlets, queue, guard, publisher)
    log("GCM backend: %s" % app.backend)
    # Done with the config: emptied, for the callers' frames below the reader's run may
    # still hold it (a tuple of boot.prepare(), a stale slot of their value stacks).
    meters.clear()
    cfg.clear()
    mqtt = None
    shell = None
    if shell_port is not None:
        gc.collect()  # the reader's start-up garbage, before the shell's code comes in
        from .setup import Server

        shell = Server(config_path, board, shell_port, station=True)
        log("setup shell on TCP port %d of the home network" % shell.port)
    return app, shell


def kept_counters(path, keys):
    """The frame counters kept in `path` (receiver.ReplayGuard) under each meter's key
    id (`keys`, by meter number): those of a meter no longer configured, under another
    key (DLMS starts a meter's counter anew with a new key), or on a damaged line are
    left out; a line of the firmware before key ids ("title counter") is taken as kept
    under the key of now."""
    last = {}
    try:
        with open(path) as f:
            for line in f:
                words = line.split()  # title[/meter number] key-id counter
                try:
                    meter = int(words[0].partition("/")[2] or 1) - 1
                    counter = int(words[-1])
                    kept = words[1] if len(words) == 3 else keys[meter]
                except (IndexError, ValueError):
                    continue  # not a whole line, or a meter no longer configured
                if not 0 <= meter < len(keys) or len(words) > 3:
                    continue
                if kept != keys[meter]:
                    log("a new key for meter %d: its frame counters start anew" % (meter + 1))
                    continue
                last["%s %s" % (words[0], kept)] = counter
    except OSError:
        pass  # none yet
    return last
