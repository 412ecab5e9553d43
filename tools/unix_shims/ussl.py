# `ussl` for umqtt.simple on the unix port (the boards have it): wrap_socket over
# MicroPython's `tls` module, verifying the server against `cadata` when given.
import tls


def wrap_socket(sock, server_hostname=None, cadata=None, **_):
    context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    if cadata:
        context.load_verify_locations(cadata)
        context.verify_mode = tls.CERT_REQUIRED
    else:
        context.verify_mode = tls.CERT_NONE
    return context.wrap_socket(sock, server_hostname=server_hostname)
