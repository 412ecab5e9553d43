# Setup mode: a WPA2 access point "SmartyReader-<last 4 hex of the MAC>" and the setup
# shell (shell.py) on TCP port 23 (nc, telnet) and on the serial console.  The access
# point's password is made once per device from the random generator, kept in a file
# beside config.json and shown on the serial console (tools/flash.py deploy shows it too).
#
# The serial console needs no setup password: whoever holds the USB cable can reflash
# the board anyway, and it is the way back in for a forgotten password.

import os
import sys

import asyncio

from . import net
from .shell import Guard, Shell

AP_PASSWORD_FILE = "ap_password.txt"
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols, without 0 o 1 l look-alikes
_IAC = 255  # telnet: a command follows (3 bytes; a subnegotiation runs to IAC SE)


def beside(config_path, name):
    """A file in the directory config.json is in."""
    slash = config_path.rfind("/")
    return config_path[: slash + 1] + name


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


class Server:
    """The setup shell's sessions: TCP on `port`, optionally the serial console.
    run() returns "reboot" (asked from any session) or "exit" (from the serial one)."""

    def __init__(self, config_path, board, port):
        self.config_path, self.board, self.port = config_path, board, port
        self.guard = Guard()  # one lockout for every session
        self.done = asyncio.Event()
        self.action = None

    async def _session(self, reader, write, ask_password):
        shell = Shell(self.config_path, self.board, self.guard, ask_password)
        await write(shell.greeting + "\r\n" + shell.prompt)
        while True:
            line = await reader.readline()
            if not line:
                return None
            answer, action = shell.handle(clean(line))
            text = answer.replace("\n", "\r\n") + "\r\n" if answer else ""
            if action:
                await write(text)
                return action
            await write(text + shell.prompt)

    async def _tcp(self, reader, writer):
        async def write(text):
            writer.write(text.encode())
            await writer.drain()

        try:
            action = await self._session(reader, write, True)
        except OSError:  # the client went away
            action = None
        try:
            writer.close()
            await writer.wait_closed()
        except OSError:
            pass
        if action == "reboot":
            self.action = action
            self.done.set()

    async def _serial(self):
        async def write(text):
            sys.stdout.write(text)

        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        action = await self._session(asyncio.StreamReader(stdin), write, False)
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


def run(config_path, board, port, log):
    """Setup mode until a session asks to reboot ("reboot") or the serial one exits."""
    essid = "SmartyReader-" + net.mac_suffix()
    password = ap_password(beside(config_path, AP_PASSWORD_FILE))
    address = net.start_access_point(essid, password)
    if address:
        log("setup: join the WiFi %s (password %s)," % (essid, password))
        log("setup: then: telnet %s %d   (or nc %s %d)" % (address, port, address, port))
    else:
        log("setup: %s; the setup shell is on TCP port %d of this host" % (net.NO_RADIO, port))
    log("setup: or type here (help lists the commands)")
    try:
        return asyncio.run(Server(config_path, board, port).run())
    finally:
        net.stop_access_point()
