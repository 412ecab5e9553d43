"""Processes for `make demo` and the end-to-end tests (host, CPython): a Mosquitto
broker on a free loopback port (optionally TLS and a password), the simulated meter on
a pty, the firmware on the MicroPython unix port, and a subscriber.  All real."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
TELEGRAM = (
    ROOT
    / "host_tests"
    / "vectors"
    / "telegrams"
    / "lux"
    / "relip_simulator_2023_3phase_export.txt"
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def mosquitto_binary():
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


class Process:
    """A child process with its output in a file; stop() ends it and its group."""

    def __init__(self, cmd, log, env=None, cwd=None, stdin=subprocess.DEVNULL):
        self.log = Path(log)
        self._out = open(self.log, "wb")
        self.proc = subprocess.Popen(
            cmd,
            stdin=stdin,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )

    def alive(self):
        return self.proc.poll() is None

    def text(self):
        return self.log.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._out.close()


class Broker:
    """Mosquitto on 127.0.0.1:port; tls=(cert, key) and a password file if asked."""

    def __init__(self, directory, port=None, tls=None, users=None, persistence=False):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.tls, self.users, self.persistence = tls, users, persistence
        self.process = None

    def start(self):
        binary = mosquitto_binary()
        if not binary:
            raise RuntimeError("mosquitto is not installed: run 'sudo make deps'")
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"persistence {str(self.persistence).lower()}",
            f"persistence_location {self.dir}/",
        ]
        if os.geteuid() == 0:  # else mosquitto drops to its own user, who cannot read our files
            lines.append("user root")
        if self.users:
            passwords = self.dir / "passwords"
            passwords.write_text("")
            for user, password in self.users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwords), user, password], check=True
                )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            cert, key = self.tls
            lines += [f"certfile {cert}", f"keyfile {key}"]
        (self.dir / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.process = Process(
            [binary, "-c", str(self.dir / "mosquitto.conf")], self.dir / "broker.log"
        )
        wait_for(self._listening, 10, f"mosquitto on port {self.port}")
        return self

    def _listening(self):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self):
        if self.process:
            self.process.stop()


def make_ca(directory):
    """A self-signed CA and a server certificate for 127.0.0.1 (openssl): (ca, cert, key)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (
        d / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run(
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=SmartyReader test CA",
    )
    run(
        "openssl",
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=127.0.0.1",
    )
    ext = d / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    return ca, cert, key


class Subscriber:
    """mosquitto_sub on every topic; messages() parses its "topic payload" lines."""

    def __init__(
        self, directory, port, topics=("#",), user=None, password=None, cafile=None, client_id=None
    ):
        cmd = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-v", "-q", "1"]
        for topic in topics:
            cmd += ["-t", topic]
        if user:
            cmd += ["-u", user, "-P", password]
        if cafile:
            cmd += ["--cafile", str(cafile)]
        if client_id:  # a persistent session: messages wait for it while it is away
            cmd += ["-c", "-i", client_id]
        self.process = Process(cmd, Path(directory) / f"sub-{time.monotonic_ns()}.log")

    def messages(self, topic=None):
        """[(topic, payload)] of the complete lines mosquitto_sub has written so far."""
        out = []
        for line in self.process.text().split("\n")[:-1]:
            name, _, payload = line.partition(" ")
            if topic is None or name == topic:
                out.append((name, payload))
        return out

    def stop(self):
        self.process.stop()


class Simulator:
    def __init__(
        self,
        directory,
        key,
        interval=1.0,
        telegram=TELEGRAM,
        count=None,
        faults=(),
        rate=None,
        first_counter=1,
        then=None,
        after=0,
    ):
        self.link = Path(directory) / "p1"
        cmd = [
            PYTHON,
            str(ROOT / "tools" / "p1.py"),
            "simulate",
            "--telegram",
            str(telegram),
            "--key",
            key,
            "--interval",
            str(interval),
            "--pty",
            str(self.link),
            "--seed",
            "1",
            "--first-counter",
            str(first_counter),
        ]
        if count:
            cmd += ["--count", str(count)]
        if rate is not None:
            cmd += ["--rate", str(rate)]
        for fault, every in faults:
            cmd += ["--" + fault.replace("_", "-"), str(every)]
        if then:  # after `after` good frames: "silence", "noise" or "wrong-key"
            cmd += ["--then", then, "--after", str(after)]
        self.process = Process(cmd, Path(directory) / "simulator.log")
        wait_for(self.link.exists, 10, "the simulator's pty")

    def frames(self):
        """What the simulator says it sent, after its first (pty) line; a line it is
        still writing (no newline yet) is left for the next call."""
        complete = self.process.text().split("\n")[1:-1]
        return [json.loads(line) for line in complete if line.startswith("{")]

    def stop(self):
        self.process.stop()


def iso(raw):
    """The time the firmware publishes (ISO 8601) for a telegram's YYMMDDhhmmssX."""
    sign = "+02:00" if raw[12] == "S" else "+01:00"
    return "20%s-%s-%sT%s:%s:%s%s" % (*(raw[i : i + 2] for i in range(0, 12, 2)), sign)


def compile_mpy(directory, packages=("smarty", "smartyreader"), arch="x86", natmod=False):
    """The application's packages as .mpy files under directory, compiled as
    tools/deploy.py does for stock firmware (x86: the viper module's code for the 32-bit
    unix port), with `natmod` the aesgcm natmod beside them as aesgcm.mpy; directory,
    for a Firmware's path (with runtime micropython32-stock: no aesgcm built in)."""
    from boardio import mpy_cross

    directory = Path(directory)
    if natmod:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "build" / "natmod" / f"aesgcm_{arch}.mpy", directory / "aesgcm.mpy")
    for package in packages:
        (directory / package).mkdir(parents=True, exist_ok=True)
        for source in (ROOT / "firmware" / "lib" / package).glob("*.py"):
            relative = f"{package}/{source.name}"
            target = (directory / relative).with_suffix(".mpy")
            cmd = mpy_cross(arch, source, relative, target)
            subprocess.run(list(map(str, cmd)), check=True)
    return directory


def firmware_config(path, key, port, uart_device, **mqtt):
    config = {
        "meter": {"key": key},
        "uart": {"device": str(uart_device)},
        "mqtt": {"host": "127.0.0.1", "port": port, "topic": "smartyreader", **mqtt},
        "diag": {"interval": 5},
    }
    Path(path).write_text(json.dumps(config, indent=1))
    return path


class Firmware:
    """firmware/main.py on build/bin/<runtime> through `p1.py run`."""

    def __init__(
        self,
        directory,
        config,
        runtime="micropython32",
        heapsize=None,
        path=(),
        frozen=False,
        board="unix",
        setup=False,
        setup_port=None,
        stdin=subprocess.DEVNULL,
        env=None,
    ):
        cmd = [
            PYTHON,
            str(ROOT / "tools" / "p1.py"),
            "run",
            "--config",
            str(config),
            "--runtime",
            runtime,
        ] + (["--frozen"] if frozen else [])
        if heapsize:
            cmd += ["--heapsize", heapsize]
        for p in path:
            cmd += ["--path", str(p)]
        cmd += ["--board", board] + (["--setup"] if setup else [])
        if setup_port:
            cmd += ["--setup-port", str(setup_port)]
        log = Path(directory) / "firmware.log"
        self.process = Process(cmd, log, stdin=stdin, env=dict(os.environ, **(env or {})))

    def log(self):
        return self.process.text()

    def stop(self, sig=signal.SIGTERM):
        self.process.stop(sig)


class Link:
    """The way from the firmware to the broker (127.0.0.1:target), broken as a test
    asks, with set(mode):
    - "up": bytes pass both ways;
    - "down": the WiFi or the route is gone: connections open now pass no byte any
      more (closed when the link comes back), new ones are refused;
    - "mute": a peer that accepts TCP and never answers (no CONNACK);
    - "http": a peer on the port that is not MQTT (a web server: reads, answers 400,
      closes).
    Every mode but "up" ends what was open."""

    HTTP = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    def __init__(self, target_port):
        self.target, self.port, self.mode = target_port, free_port(), "up"
        self._lock = threading.Lock()
        self._open = []  # [client, upstream or None, passing]
        self._server = None
        self._listen()

    def _listen(self):
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server):
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # closed: the link is down
            with self._lock:
                mode = self.mode
                if mode == "http":
                    threading.Thread(target=self._web_server, args=(client,), daemon=True).start()
                    continue
                upstream = None
                if mode == "up":
                    try:
                        upstream = socket.create_connection(("127.0.0.1", self.target), 5)
                    except OSError:
                        client.close()
                        continue
                conn = [client, upstream, mode == "up"]
                self._open.append(conn)
            if upstream is not None:
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(conn, a, b), daemon=True).start()

    @classmethod
    def _web_server(cls, client):
        """As a web server does: reads the request (here an MQTT CONNECT), answers 400."""
        try:
            client.settimeout(10)
            client.recv(1024)
            client.sendall(cls.HTTP)
        except OSError:
            pass
        client.close()

    @staticmethod
    def _pump(conn, source, sink):
        import select

        while True:
            if not conn[2]:  # no byte passes any more: the data waits where it is
                return
            try:
                ready = select.select([source], [], [], 0.2)[0]
                if not ready:
                    continue
                if not conn[2]:
                    return
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
            except OSError:
                break
        _close_all(conn)

    def set(self, mode):
        with self._lock:
            old, self.mode = self.mode, mode
            held, self._open = self._open, []
            for conn in held:
                conn[2] = False
            if mode == "down" and self._server is not None:
                self._unlisten()
        if old == "down" or mode != "down":
            for conn in held:  # the dead connections are gone when the link returns
                _close_all(conn)
        else:
            with self._lock:
                self._open = held  # frozen until the link comes back
        if mode != "down" and self._server is None:
            self._listen()

    def stop(self):
        self.set("down")
        self.set("mute")
        with self._lock:
            if self._server is not None:
                self._unlisten()

    def _unlisten(self):
        try:  # wakes the thread in accept(), which close() alone would not
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        self._server = None


def _close_all(conn):
    for s in conn[:2]:
        if s is not None:
            try:
                s.close()
            except OSError:
                pass


class BoardModel:
    """The world of a firmware run on a board model (host_tests/models): the radio and
    the DNS (files the models read), the meter's UART (the simulator's pty), and the
    names the DNS knows.  env() is what the firmware process needs."""

    MODELS = ROOT / "host_tests" / "models"

    def __init__(self, directory, mcu, uarts, hosts):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mcu, self.uarts, self.hosts = mcu, uarts, hosts
        self.wifi("up")
        self.dns("ok")

    def wifi(self, state):
        (self.dir / "wifi").write_text(state)

    def dns(self, state):
        (self.dir / "dns").write_text(state)

    def gpio(self, pin):
        """What the board drives on an output pin: "0", "1", or "-" (never driven)."""
        return (self.dir / "gpio").read_bytes()[pin : pin + 1].decode()

    def heapsize(self, board_heap, runtime="micropython32", rxbuf=2048):
        """The -X heapsize that leaves the firmware `board_heap` bytes: the models are
        Python here, on the heap, where the boards' machine and network are C.  The
        ESP32's UART receive rings (`rxbuf` bytes each, one per UART of the model) are
        the IDF driver's, outside the GC heap (ports/esp32/machine_uart.c:
        uart_driver_install): the model's rings get their bytes on top too.  (The
        ESP8266's ring is the GC heap's, m_new in ports/esp8266/machine_uart.c: not.)"""
        rings = list(self.uarts) if self.mcu == "esp32" else []
        probe = (
            "import gc; gc.collect(); a = gc.mem_alloc()\n"
            "import machine, network, os, socket\n"
            f"rings = [machine.UART(i, rxbuf={rxbuf}) for i in {rings}]\n"
            "gc.collect(); print(gc.mem_alloc() - a)"
        )
        env = {k: v for k, v in self.env().items() if not k.startswith("SMARTY_UART")}
        env = dict(os.environ, MICROPYPATH=f"{self.MODELS}:.frozen", **env)
        cost = subprocess.run(
            [str(ROOT / "build" / "bin" / runtime), "-X", "heapsize=256k", "-c", probe],
            env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return str(board_heap + int(cost))

    def env(self):
        env = {
            "SMARTY_MODEL": self.mcu,
            "SMARTY_MODEL_DIR": str(self.dir),
            "SMARTY_HOSTS": ",".join(f"{n}={a}" for n, a in self.hosts.items()),
        }
        for uart_id, path in self.uarts.items():
            env[f"SMARTY_UART{uart_id}"] = str(path)
        return env


class Rig:
    """What a test starts (broker, simulated meter, subscriber, ...): all of it stopped,
    last first, by stop()."""

    def __init__(self, directory, key, topics=("#",)):
        self.dir, self.key, self.topics = Path(directory), key, topics
        self.started = []

    def add(self, thing):
        self.started.append(thing)
        return thing

    def broker(self, **kw):
        return self.add(Broker(self.dir / f"broker{len(self.started)}", **kw).start())

    def simulator(self, **kw):
        return self.add(Simulator(self.dir, self.key, **kw))

    def subscriber(self, port, *topics, **kw):
        return self.add(Subscriber(self.dir, port, topics=topics or self.topics, **kw))

    def stop(self):
        for thing in reversed(self.started):
            thing.stop()


class SetupClient:
    """A session with the setup shell over TCP: command(line) -> the answer."""

    PROMPTS = (b"smarty> ", b"password: ")

    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.sock = wait_for(lambda: self._connect(host, port), timeout, f"setup shell on {port}")
        self.sock.settimeout(timeout)
        self.greeting = self.read()

    @staticmethod
    def _connect(host, port):
        try:
            return socket.create_connection((host, port), timeout=1)
        except OSError:
            return None

    def read(self):
        """Text up to the next prompt (or the end of the session), without the prompt."""
        data = b""
        while not data.endswith(self.PROMPTS):
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        self.prompt = next((p.decode() for p in self.PROMPTS if data.endswith(p)), None)
        if self.prompt:
            data = data[: -len(self.prompt)]
        return data.decode().replace("\r\n", "\n").strip()

    def command(self, line):
        self.sock.sendall(line.encode() + b"\r\n" if isinstance(line, str) else line)
        return self.read()

    def close(self):
        self.sock.close()

    stop = close
