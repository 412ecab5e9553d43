"""A real SMTP server for the station's mail tests (aiosmtpd, its own process):
STARTTLS required, then AUTH LOGIN/PLAIN with one user; each message is written to
DIR/N.eml.  Usage: station_smtp.py PORT CERT KEY USER PASSWORD DIR"""

import signal
import ssl
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Keep:
    def __init__(self, folder):
        self.folder, self.count = Path(folder), 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        (self.folder / f"{self.count}.eml").write_bytes(envelope.original_content)
        return "250 OK"


def main(port, cert, key, user, password, folder):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        good = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=good)

    controller = Controller(
        Keep(folder),
        hostname="127.0.0.1",
        port=int(port),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    print("listening", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    stopping.wait()
    controller.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
