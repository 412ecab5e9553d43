# Home Assistant discovery: a retained config per sensor of a meter, from the sensor
# lines publish.sensor_line() wrote.  Sent once per connection to the broker: the
# publisher imports this module for that and drops it after (publisher.send_discovery).

import json

from .publish import SlotWriter

# Units as Home Assistant spells them.
HA_UNITS = {"m3": "m³"}


def discovery(prefix, node, topic, meter_name, sensors, buf, status=None):
    """(topic, length) of the retained Home Assistant discovery config of each sensor,
    written into buf (a free queue slot: no dict, no string of it on the heap), from the
    lines sensor_line() wrote (bytes or text: a file's lines).  `status`: the
    availability topic (default: <topic>/status)."""
    device = json.dumps(
        {
            "identifiers": [node],
            "name": meter_name,
            "manufacturer": "Sagemcom",
            "model": "Smarty (SmartyReader)",
        }
    )
    writer = SlotWriter()
    for line in sensors:
        if isinstance(line, (bytes, bytearray)):
            line = line.decode()
        parts = line.split()
        if len(parts) != 4:
            continue
        field, unit, device_class, state_class = (None if x == "-" else x for x in parts)
        writer.start(buf)
        writer.open()
        writer.field("name", field.replace("_", " "))
        writer.field("unique_id", node + "_" + field)
        writer.field("object_id", node + "_" + field)
        writer.field("state_topic", topic + "/state")
        writer.field("value_template", "{{ value_json.%s }}" % field)
        writer.field("availability_topic", status or topic + "/status")
        writer.member("device", device)
        if unit:
            writer.field("unit_of_measurement", HA_UNITS.get(unit, unit))
        if device_class:
            writer.field("device_class", device_class)
        if state_class:
            writer.field("state_class", state_class)
        writer.close()
        yield "%s/sensor/%s/%s/config" % (prefix, node, field), writer.length


def node_id(meter):
    """The Home Assistant node id of a meter id: smarty_<lower case, [a-z0-9_]>.  Its
    bytes, not its characters: taking a str apart interns each character as a name for
    good (on MicroPython; py/objstr.c), and at a connection a new pool of names may not
    find room in the heap."""
    out = bytearray(b"smarty_")
    for c in meter.lower().encode():
        if 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39:  # a-z, 0-9
            out.append(c)
        elif not 0x80 <= c < 0xC0:  # a character's first byte (not UTF-8's next ones)
            out.append(0x5F)  # _
    return out.decode()
