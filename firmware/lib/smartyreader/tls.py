# TLS with the MQTT broker (mqtt.tls): imported only then, as its code is heap that a
# reader without TLS (every ESP8266) needs for readings.

import sys

from .broker import BrokerError


def context(host, ca):
    """What umqtt wraps its socket with: an ssl.SSLContext that, with mqtt.ca, verifies
    the broker's certificate and its name, host (ssl.py's wrap_socket would default to
    CERT_NONE)."""
    if sys.platform == "esp8266":  # config.validate() refuses it there already
        raise BrokerError("mqtt.tls: the ESP8266's TLS (axTLS) cannot verify a broker")
    import ssl

    ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        try:
            with open(ca, "rb") as f:
                certificates = _certificates(f.read())
        except OSError:
            raise BrokerError("mqtt.ca: cannot read %s" % ca)
        except ValueError:
            raise BrokerError("mqtt.ca: %s is not a PEM or DER certificate" % ca)
        _set_clock()  # mbedtls checks the certificate's dates against the clock
        for certificate in certificates:  # each one added to the trusted set
            ssl_context.load_verify_locations(cadata=certificate)
        ssl_context.verify_mode = ssl.CERT_REQUIRED
    return _Named(ssl_context, host)


class _Named:
    """The context, as umqtt calls it, checking the certificate against mqtt.host (umqtt
    names the server it connected to: the address the name had)."""

    def __init__(self, ssl_context, host):
        self._context, self._host = ssl_context, host

    def wrap_socket(self, sock, server_hostname=None):
        return self._context.wrap_socket(sock, server_hostname=self._host)


def _certificates(data):
    """The certificates of a CA file as DER (what mbedtls takes in every MicroPython
    port): each of a PEM bundle or chain, or the one DER certificate; ValueError if
    there is none."""
    if not data.startswith(b"-----BEGIN"):
        if data[:1] != b"\x30":  # a DER certificate is an ASN.1 SEQUENCE
            raise ValueError("not a certificate")
        return [data]
    from binascii import a2b_base64

    certificates, body = [], None
    for line in data.split(b"\n"):
        line = line.strip()
        if line.startswith(b"-----BEGIN CERTIFICATE"):
            body = []
        elif line.startswith(b"-----END") and body is not None:
            certificates.append(a2b_base64(b"".join(body)))
            body = None
        elif body is not None:
            body.append(line)
    if not certificates:
        raise ValueError("no certificate")
    return certificates


_clock_set = False


def _set_clock():
    """On a board, the time from NTP once per boot (its clock starts in 2000 at every
    boot, and keeps time after); a host's clock is right already."""
    global _clock_set
    if _clock_set or sys.platform in ("linux", "darwin"):
        return
    try:
        import ntptime

        ntptime.settime()
    except (ImportError, OSError, ValueError) as e:  # ValueError: a short reply
        raise BrokerError("TLS needs the time to check mqtt.ca, and NTP failed (%r)" % e)
    _clock_set = True
