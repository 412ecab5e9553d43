# Setup mode: a WPA2 access point "SmartyReader-<last 4 hex of the MAC>" and the setup
# shell (shell.py) on TCP port 23 (nc, telnet) and on the serial console.  The access
# point's password is made once per device from the random generator, kept in a file
# beside config.json and shown on the serial console (tools/flash.py deploy shows it too).
#
# The serial console needs no setup password: whoever holds the USB cable can reflash
# the board anyway, and it is the way back in for a forgotten password.

import gc
import os
import sys
import time

import asyncio

from . import beside, net, wifisetup
from .shell import REBOOT, Guard, Shell

AP_PASSWORD_FILE = "ap_password.txt"
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols, without 0 o 1 l look-alikes
_IAC = 255  # telnet: a command follows (3 bytes; a subnegotiation runs to IAC SE)


def ap_password(path):
    """The access point's password: kept in path, made there on first use (60 bits)."""
    try:
        with open(path) as f:
            password = f.read().strip()
        if len(password) >= 8:
            return password
    except OSError:
        pass
    symbols = "".join(_ALPHABET[b & 31] for b in os.urandom(12))
    password = "-".join(symbols[i : i + 4] for i in (0, 4, 8))
    with open(path, "w") as f:
        f.write(password + "\n")
    return password


def clean(data):
    """A received line as text: telnet negotiation and control characters removed."""
    if isinstance(data, str):
        data = data.encode()
    out = bytearray()
    skip = 0
    in_subnegotiation = False
    for i, byte in enumerate(data):
        if skip:
            skip -= 1
        elif in_subnegotiation:
            in_subnegotiation = not (byte == 240 and data[i - 1] == _IAC)  # IAC SE
        elif byte == _IAC:
            if i + 1 < len(data) and data[i + 1] == 250:  # IAC SB
                in_subnegotiation = True
            else:
                skip = 2
        elif 32 <= byte < 127 or byte == 9:
            out.append(byte)
    return out.decode()


LINE_LIMIT = 256  # bytes a command line may have
TOO_LONG = object()  # what LineReader.readline() gives for a longer one
_SESSIONS = 2  # TCP sessions at once; more are told "busy" and closed
_LOGIN_S = 30  # to type the password, once connected
_IDLE_S = 600  # without a line, once logged in


class LineReader:
    """Lines from a stream, ended by CR, LF or CR LF (terminals send CR), read in bounded
    pieces: asyncio's readline would hold a line of any length in RAM (a 200 KB line is
    a MemoryError) and waits for LF only.  A line longer than `limit` is TOO_LONG and
    skipped to its end."""

    def __init__(self, stream, chunk=64, limit=LINE_LIMIT):
        # chunk: bytes a read asks for.  A socket (non-blocking under asyncio) gives what
        # it has; a blocking stream such as stdin must be read a byte at a time, or the
        # read waits for the whole chunk with every task stopped.
        self.stream, self.chunk, self.limit = stream, chunk, limit
        self._chunk, self._pos = b"", 0
        self._after_cr = False

    async def readline(self):
        """The next line (bytes, without its end), TOO_LONG, or None at the end."""
        line, too_long = bytearray(), False
        while True:
            if self._pos >= len(self._chunk):
                self._chunk, self._pos = await self.stream.read(self.chunk), 0
                if not self._chunk:
                    return TOO_LONG if too_long else bytes(line) if line else None
            c = self._chunk[self._pos]
            self._pos += 1
            if c == 10 and self._after_cr:  # the LF of a CR LF
                self._after_cr = False
                continue
            self._after_cr = c == 13
            if c == 10 or c == 13:
                return TOO_LONG if too_long else bytes(line)
            if len(line) < self.limit:
                line.append(c)
            else:
                too_long = True


class Server:
    """The setup shell's sessions: TCP on `port` (at most two at once), optionally the
    serial console.  run() returns REBOOT (asked from any session) or EXIT (from the
    serial one).  `station`: the meter is being read meanwhile (the station shell)."""

    REBOOT = REBOOT

    def __init__(self, config_path, board, port, station=False):
        self.config_path, self.board, self.port = config_path, board, port
        self.station = station
        self.guard = Guard()  # one lockout for every session
        self.done = asyncio.Event()
        self.action = None
        self.sessions = 0
        self.last_session = time.ticks_ms()  # when the last TCP session ended (or began)

    async def _session(self, lines, write, ask_password):
        shell = Shell(self.config_path, self.board, self.guard, ask_password, self.station)
        await write(shell.greeting + "\r\n" + shell.prompt)
        while True:
            timeout = _IDLE_S if shell.authenticated else _LOGIN_S
            try:
                line = (
                    await asyncio.wait_for(lines.readline(), timeout)
                    if ask_password
                    else (await lines.readline())
                )
            except asyncio.TimeoutError:
                await write("\r\nno input for %d s: bye\r\n" % timeout)
                return None
            if line is None:
                return None
            if line is TOO_LONG:
                answer, action = "line too long (at most %d characters)" % LINE_LIMIT, None
            else:
                # an answer is made whole (show: the whole config): the heap collected
                # first, and written a line at a time, not copied with \r\n in it
                gc.collect()
                answer, action = shell.handle(clean(line))
            for text in answer if isinstance(answer, list) else (answer,):
                for answer_line in text.split("\n") if text else ():
                    await write(answer_line + "\r\n")
            if action:
                return action
            await write(shell.prompt)

    async def _tcp(self, reader, writer):
        async def write(text):
            writer.write(text.encode())
            await writer.drain()

        action = None
        self.sessions += 1
        try:
            if self.sessions > _SESSIONS:
                await write("busy: %d sessions are open already; try again later\r\n" % _SESSIONS)
            else:
                action = await self._session(LineReader(reader), write, True)
        except OSError:  # the client went away
            action = None
        except MemoryError:  # the session is lost; the shell goes on with the next one
            print("setup: out of memory in a session: closed")
            action = None
        finally:
            self.sessions -= 1
            self.last_session = time.ticks_ms()
            try:
                writer.close()
                await writer.wait_closed()
            except OSError:
                pass
        if action == REBOOT:
            self.action = action
            self.done.set()

    async def _serial(self):
        async def write(text):
            sys.stdout.write(text)

        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        lines = LineReader(asyncio.StreamReader(stdin), chunk=1)
        action = await self._session(lines, write, False)
        if action:  # at the end of the input (none attached), TCP goes on alone
            self.action = action
            self.done.set()

    async def run(self, serial=True):
        server = await asyncio.start_server(self._tcp, "0.0.0.0", self.port)
        tasks = [asyncio.create_task(self._serial())] if serial else []
        await self.done.wait()
        for task in tasks:
            task.cancel()
        server.close()
        await server.wait_closed()
        return self.action


def run(config_path, board, port, log, home=None, window_s=300):
    """Setup mode until a session asks to reboot (REBOOT) or the serial one exits.
    `home`: the home WiFi (a net.WiFi), when setup mode stands in for it (no home WiFi
    for a while): REBOOT as soon as it is back, or once window_s pass without a TCP
    session, to read the meter again."""
    essid = "SmartyReader-" + net.mac_suffix()
    password = ap_password(beside(config_path, AP_PASSWORD_FILE))
    address = wifisetup.start_access_point(essid, password)
    if address:
        log("setup: join the WiFi %s (password %s)," % (essid, password))
        log("setup: then: telnet %s %d   (or nc %s %d)" % (address, port, address, port))
    else:
        log(
            "setup: %s; the setup shell is on TCP port %d of this host"
            % (wifisetup.NO_RADIO, port)
        )
    log("setup: or type here (help lists the commands)")
    server = Server(config_path, board, port)
    try:
        return asyncio.run(_serve(server, home, window_s, log))
    finally:
        wifisetup.stop_access_point()


async def _serve(server, home, window_s, log):
    if home is not None:
        asyncio.create_task(_watch_home(server, home, window_s * 1000, log))
    return await server.run()


async def _watch_home(server, home, window_ms, log):
    """Ends setup mode (REBOOT) when the home WiFi is back, or after window_ms without
    a TCP session: the meter is not read meanwhile."""
    home.connect()
    released = wifisetup.released
    while not server.done.is_set():
        await asyncio.sleep(2)
        if home.connected():
            log("setup: the home WiFi is back: reading the meter again")
        elif server.sessions or time.ticks_diff(time.ticks_ms(), server.last_session) < window_ms:
            # a no-op while connecting, unless the shell's scan or test took the station off
            home.connect(wifisetup.released != released)
            released = wifisetup.released
            continue
        else:
            log("setup: no session for %d s: reading the meter again" % (window_ms // 1000))
        server.action = REBOOT
        server.done.set()
