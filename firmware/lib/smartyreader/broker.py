# The MQTT connection: the only module that uses umqtt.  Errors become BrokerError
# with a message a user can act on; passwords are never part of one.

from smarty import const
from umqtt.simple import MQTTClient, MQTTException

from . import log

_REFUSED = {
    1: "the broker does not speak MQTT 3.1.1",
    2: "the broker rejected the client id",
    3: "the broker is unavailable",
    4: "wrong mqtt.user or mqtt.password",
    5: "not authorized: wrong mqtt.user or mqtt.password",
}


_TIMEOUT_S = const(10)
# ETIMEDOUT: 110 in MicroPython's own errno numbers (the ESP8266; py/mperrno.h) and on
# Linux, 116 on the ESP32, whose port uses newlib's (MICROPY_USE_INTERNAL_ERRNO 0 in
# ports/esp32/mpconfigport.h; its modsocket.c raises MP_ETIMEDOUT, i.e. ETIMEDOUT)
_TIMED_OUT = const((110, 116))


class BrokerError(OSError):
    pass


class Broker:
    def __init__(
        self,
        host,
        port,
        client_id,
        status_topic,
        user=None,
        password=None,
        tls=False,
        ca=None,
        keepalive=60,
    ):
        self.host, self.port = host, port
        self._client_id, self._status = client_id, status_topic
        self._user, self._password = user, password
        self._tls, self._ca, self._keepalive = tls, ca, keepalive
        self._client = None
        self._address = None  # mqtt.host's address, as looked up last
        self.looked_up = False  # ... since the last failure to reach it

    @property
    def connected(self):
        return self._client is not None

    def look_up(self):
        """Looks mqtt.host up: at the first connect and after its address failed (the
        broker may have a new one), not at every reconnect, since a lookup in a DNS that
        does not answer blocks for lwIP's 10 s and no port can bound it.  A lookup that
        fails keeps the address known; BrokerError if there is none."""
        self.looked_up = True
        try:
            self._address = _address(self.host, self.port)
        except OSError as e:
            if self._address is None:
                raise BrokerError(
                    "cannot look up the MQTT broker's name %s (%r): check mqtt.host and "
                    "the network's DNS" % (self.host, e)
                )
            log("cannot look up %s (%r): trying %s" % (self.host, e, self._address))

    def connect(self):
        """Connects, with `offline` (retained) as last will and `online` published."""
        if not self.looked_up:
            self.look_up()
        context = None
        if self._tls:  # its code is loaded only for a broker with TLS
            from . import tls

            context = tls.context(self.host, self._ca)
        client = MQTTClient(
            _utf8(self._client_id),
            self._address,  # an address: umqtt's own lookup of it returns at once
            self.port,
            user=_utf8(self._user),
            password=_utf8(self._password or ""),  # umqtt needs one with a user
            keepalive=self._keepalive,
            ssl=context,
        )
        client.set_last_will(_utf8(self._status), b"offline", retain=True)
        where = "%s:%d" % (self.host, self.port)
        try:
            # umqtt 1.6: the timeout bounds the TCP connect, the TLS handshake and the
            # CONNACK (not the DNS lookup, which no MicroPython port can bound)
            client.connect(timeout=_TIMEOUT_S)
        except MQTTException as e:
            code = e.args[0] if e.args else 0
            raise BrokerError(
                "MQTT broker %s refused the connection: %s"
                % (where, _REFUSED.get(code, "code %s" % code))
            )
        except (OSError, ValueError, IndexError, AssertionError) as e:
            _close(client)
            self.looked_up = False  # the next attempt looks the name up again
            if isinstance(e, (AssertionError, IndexError)):  # umqtt's check of the CONNACK
                raise BrokerError(
                    "%s answered, but not as an MQTT broker: check mqtt.host and mqtt.port" % where
                )
            if isinstance(e, OSError) and e.args and e.args[0] in _TIMED_OUT:
                raise BrokerError(
                    "cannot reach the MQTT broker %s: no answer within %d s" % (where, _TIMEOUT_S)
                )
            if self._tls:
                raise BrokerError(
                    "TLS with the MQTT broker %s failed (%s): check mqtt.ca and "
                    "that the certificate is for %s" % (where, e, self.host)
                )
            raise BrokerError("cannot reach the MQTT broker %s (%r)" % (where, e))
        try:  # a broker that stops answering must not hang the reader
            client.sock.settimeout(_TIMEOUT_S)
        except (AttributeError, OSError):
            pass  # a TLS socket: the timeout umqtt gave the TCP socket under it holds
        client.sock = _KeepTimeout(client.sock)
        self._client = client
        self.publish(self._status, b"online", True)

    def publish(self, topic, payload, retain=False, qos=0):
        """Publishes; with qos=1 returns only once the broker has acknowledged it.
        BrokerError (and disconnected) if the connection broke.  Topic and payload go
        out as UTF-8 bytes: umqtt counts len(), which for a str is characters, and
        "m³" is 2 characters but 3 bytes."""
        if self._client is None:
            raise BrokerError("not connected")
        if self._client.pid >= 0xFFFF:  # umqtt would pack 65536 into the 16-bit packet id
            self._client.pid = 0
        try:
            self._client.publish(_utf8(topic), _utf8(payload), retain, qos)
        except (OSError, ValueError, IndexError, AssertionError, MQTTException) as e:
            self.close()
            raise BrokerError("lost the MQTT broker (%r)" % e)

    def ping(self):
        """Keeps the connection alive (the answer is read with the next acknowledgement)."""
        try:
            self._client.ping()
        except (OSError, ValueError, AttributeError) as e:
            self.close()
            raise BrokerError("lost the MQTT broker (%r)" % e)

    def close(self):
        if self._client is not None:
            _close(self._client)
            self._client = None


def from_config(mqtt, client_id, status_topic):
    """A Broker of the config's mqtt section."""
    return Broker(
        mqtt["host"],
        mqtt["port"],
        client_id,
        status_topic,
        mqtt["user"],
        mqtt["password"],
        mqtt["tls"],
        mqtt["ca"],
        mqtt["keepalive"],
    )


def _address(host, port):
    """host's IPv4 address as text (the host itself if it has none: IPv6 on a host);
    OSError if the lookup fails."""
    import socket

    for entry in socket.getaddrinfo(host, port):
        address = entry[-1]
        if isinstance(address, tuple):  # the ESP ports (lwIP): ("a.b.c.d", port)
            return address[0]
        if len(address) == 16 and address[0] == 2:  # the unix port: a sockaddr_in
            return "%d.%d.%d.%d" % tuple(address[4:8])
    return host


class _KeepTimeout:
    """The connection's socket, whose timeout umqtt may not undo: umqtt.simple 1.6.0's
    wait_msg() (each QoS 1 publish waits in it for the PUBACK) calls setblocking(True)
    after the first byte, which clears the timeout, so the next publish on a link that
    died would wait forever (on a board: until the watchdog, or for ever)."""

    def __init__(self, sock):
        self.read, self.write, self.close = sock.read, sock.write, sock.close
        self._sock = sock

    def setblocking(self, flag):
        if not flag:
            self._sock.setblocking(False)
        # blocking: the timeout stays (blocking, but bounded)


def _utf8(text):
    return text.encode() if isinstance(text, str) else text


def _close(client):
    try:
        client.sock.close()
    except (OSError, AttributeError):
        pass
