# What each part of the reader costs on the heap (gc.mem_alloc() after a collection),
# the application frozen: modules as the reader imports them, then its buffers.  One
# "name bytes" line each.  Used by bench/run.py.
import gc


def used():
    gc.collect()
    return gc.mem_alloc()


base = used()


def step(name):
    global base
    now = used()
    print(name.replace(" ", "_"), now - base)
    base = now


import asyncio  # noqa: E402, F401

step("asyncio")
from umqtt.simple import MQTTClient  # noqa: E402, F401

step("umqtt.simple")
import smarty.reader  # noqa: E402, F401

step("smarty (framer, gcm, dsmr, obis)")
import smartyreader.hw  # noqa: E402, F401
import smartyreader.net  # noqa: E402, F401
import smartyreader.start  # noqa: E402, F401

step("smartyreader start, hw, net")
import smartyreader.app  # noqa: E402, F401
import smartyreader.broker  # noqa: E402, F401
import smartyreader.publisher  # noqa: E402, F401
import smartyreader.queue  # noqa: E402, F401
import smartyreader.receiver  # noqa: E402, F401

step("smartyreader app, receiver, publisher, queue, publish, broker")
frame = bytearray(2048)
step("frame buffer")
slot = bytearray(2048)
step("queue slot")
rxbuf = bytearray(2048)
step("UART rxbuf")
