# The OBIS objects the reader knows, as one text table: a row per object,
#
#   code  field-name  unit  kind      ("-": none)
#
# Text, not a tuple per row: loaded as .mpy on a stock ESP8266, 80 tuples and their
# strings would take 12 KB of its ~36 KB heap; this table is one 2.9 KB bytes object
# (bytes, not str: MicroPython finds and slices bytes by offset, a str by walking it).  The
# Luxembourg rows come first, in the order a Smarty sends them, then the other
# countries' objects: lookup() goes on from the row found before, so a telegram in
# table order reads the table about once.
#
# kind says how the value is read and which Home Assistant state class it gets:
#   total    a number that only grows          (state class total_increasing)
#   measure  a number measured now             (state class measurement)
#   number   a number that is a setting/state  (no state class)
#   time     a timestamp YYMMDDhhmmss[S|W]     (device class timestamp)
#   hex      text sent as hex digits (ids, messages), decoded
#   text     text as sent
#   list     several values, kept as a list
#   event    (timestamp)(number): the number, and <name>_timestamp
#   mbus     (timestamp)(number) of an M-Bus channel, named by its device type
#   mbus3    DSMR 3 gas: (timestamp)(..)(..)(..)(code)(unit)(number)
# The Home Assistant device class follows from the unit (UNIT_CLASS below).
#
# Notes: 0-0:42.0.0 is Luxembourg's logical device name, 0-0:96.1.1 the Dutch and
# Belgian equipment id; 0-0:17.0.0 is in kVA in Luxembourg, kW in the Netherlands;
# 1-1:31.4.0 (Luxembourg) has two values.  Codes "0-n:..." stand for M-Bus channels
# 1-4: their field names get the channel's meter name in front (gas_equipment_id);
# "0-n:24.2.3" is Belgian gas (not temperature corrected).  A unit given here is used
# when the meter sends none (old Smarty firmware); the meter's own unit wins.

from collections import namedtuple

OBIS = b"""
1-3:0.2.8 dsmr_version - text
0-0:1.0.0 timestamp - time
0-0:42.0.0 equipment_id - hex
1-0:1.8.0 energy_import kWh total
1-0:2.8.0 energy_export kWh total
1-0:3.8.0 reactive_energy_import kvarh total
1-0:4.8.0 reactive_energy_export kvarh total
1-0:1.7.0 power_import kW measure
1-0:2.7.0 power_export kW measure
1-0:3.7.0 reactive_power_import kvar measure
1-0:4.7.0 reactive_power_export kvar measure
0-0:17.0.0 power_threshold kVA number
1-0:9.7.0 apparent_power_import kVA measure
1-0:10.7.0 apparent_power_export kVA measure
1-1:31.4.0 current_limits A list
0-0:96.3.10 breaker_state - number
0-1:96.3.10 breaker_state_1 - number
0-2:96.3.10 breaker_state_2 - number
0-0:96.7.21 power_failures - total
1-0:32.32.0 voltage_sags_l1 - total
1-0:52.32.0 voltage_sags_l2 - total
1-0:72.32.0 voltage_sags_l3 - total
1-0:32.36.0 voltage_swells_l1 - total
1-0:52.36.0 voltage_swells_l2 - total
1-0:72.36.0 voltage_swells_l3 - total
0-0:96.13.0 text_message - hex
0-0:96.13.2 text_message_2 - hex
0-0:96.13.3 text_message_3 - hex
0-0:96.13.4 text_message_4 - hex
0-0:96.13.5 text_message_5 - hex
1-0:32.7.0 voltage_l1 V measure
1-0:52.7.0 voltage_l2 V measure
1-0:72.7.0 voltage_l3 V measure
1-0:31.7.0 current_l1 A measure
1-0:51.7.0 current_l2 A measure
1-0:71.7.0 current_l3 A measure
1-0:21.7.0 power_import_l1 kW measure
1-0:41.7.0 power_import_l2 kW measure
1-0:61.7.0 power_import_l3 kW measure
1-0:22.7.0 power_export_l1 kW measure
1-0:42.7.0 power_export_l2 kW measure
1-0:62.7.0 power_export_l3 kW measure
1-0:23.7.0 reactive_power_import_l1 kvar measure
1-0:43.7.0 reactive_power_import_l2 kvar measure
1-0:63.7.0 reactive_power_import_l3 kvar measure
1-0:24.7.0 reactive_power_export_l1 kvar measure
1-0:44.7.0 reactive_power_export_l2 kvar measure
1-0:64.7.0 reactive_power_export_l3 kvar measure
0-n:24.1.0 device_type - number
0-n:96.1.0 equipment_id - hex
0-n:24.2.1 - - mbus
0-n:24.4.0 valve - number
0-0:96.1.4 version_info - text
0-0:96.1.1 equipment_id - hex
1-0:1.8.1 energy_import_tariff1 kWh total
1-0:1.8.2 energy_import_tariff2 kWh total
1-0:1.8.3 energy_import_tariff3 kWh total
1-0:1.8.4 energy_import_tariff4 kWh total
1-0:2.8.1 energy_export_tariff1 kWh total
1-0:2.8.2 energy_export_tariff2 kWh total
1-0:2.8.3 energy_export_tariff3 kWh total
1-0:2.8.4 energy_export_tariff4 kWh total
0-0:96.14.0 tariff - number
1-0:3.8.1 reactive_energy_import_tariff1 varh total
1-0:3.8.2 reactive_energy_import_tariff2 varh total
1-0:4.8.1 reactive_energy_export_tariff1 varh total
1-0:4.8.2 reactive_energy_export_tariff2 varh total
1-0:5.8.0 reactive_energy_q1 kvarh total
1-0:6.8.0 reactive_energy_q2 kvarh total
1-0:7.8.0 reactive_energy_q3 kvarh total
1-0:8.8.0 reactive_energy_q4 kvarh total
1-0:15.8.0 energy_absolute kWh total
0-0:96.7.9 long_power_failures - total
1-0:99.97.0 power_failure_log - list
1-0:1.4.0 average_demand kW measure
1-0:1.6.0 max_demand_month kW event
0-0:98.1.0 max_demand_history - list
1-0:31.4.0 fuse_threshold A number
0-0:96.13.1 message_code - hex
1-0:14.7.0 frequency Hz measure
1-0:5.7.0 reactive_power_q1 kvar measure
1-0:6.7.0 reactive_power_q2 kvar measure
1-0:7.7.0 reactive_power_q3 kvar measure
1-0:8.7.0 reactive_power_q4 kvar measure
1-0:51.4.0 fuse_threshold_l2 A number
1-0:71.4.0 fuse_threshold_l3 A number
0-3:96.3.10 breaker_state_3 - number
0-4:96.3.10 breaker_state_4 - number
1-0:13.7.0 power_factor - measure
1-0:33.7.0 power_factor_l1 - measure
1-0:53.7.0 power_factor_l2 - measure
1-0:73.7.0 power_factor_l3 - measure
1-0:0.0.0 equipment_id - text
0-0:96.1.0 equipment_id - hex
0-n:96.1.1 equipment_id - hex
0-n:24.2.3 - - mbus
0-n:24.3.0 - - mbus3
"""

# Home Assistant device class of a value in each unit.
UNIT_CLASS = {
    "kWh": "energy",
    "Wh": "energy",
    "kvarh": "reactive_energy",
    "varh": "reactive_energy",
    "kW": "power",
    "W": "power",
    "kvar": "reactive_power",
    "var": "reactive_power",
    "kVA": "apparent_power",
    "VA": "apparent_power",
    "V": "voltage",
    "A": "current",
    "Hz": "frequency",
    "GJ": "energy",
}

# M-Bus device types (EN 13757-3): meter name, default unit, HA device class
MBUS_DEVICES = {
    3: ("gas", "m3", "gas"),
    4: ("heat", "GJ", "energy"),
    6: ("warm_water", "m3", "water"),
    7: ("water", "m3", "water"),
    12: ("heat", "GJ", "energy"),
}
MBUS_UNKNOWN = ("mbus", None, None)

# State class of each kind (kinds not listed have none).
STATE_CLASS = {
    "total": "total_increasing",
    "measure": "measurement",
    "event": "measurement",
    "mbus": "total_increasing",
    "mbus3": "total_increasing",
}


# A row of the table: name and unit None where it says "-"; end: where the row ends in
# OBIS (the next lookup's start).
Row = namedtuple("Row", ("code", "name", "unit", "kind", "end"))


def lookup(code, start=0):
    """The Row of an OBIS code (an M-Bus channel's code written "0-n:..."), None for an
    unknown code.  The search starts at `start` (a previous row's end) and wraps
    around."""
    key = b"\n" + code.encode() + b" "
    row = OBIS.find(key, start)
    if row < 0:
        row = OBIS.find(key, 0, start + len(key))
        if row < 0:
            return None
    end = OBIS.find(b"\n", row + 1)
    _, name, unit, kind = OBIS[row + 1 : end].split()
    return Row(
        code,
        None if name == b"-" else name.decode(),
        None if unit == b"-" else unit.decode(),
        kind.decode(),
        end,
    )


def rows():
    """Every Row of the table, in its order."""
    for line in OBIS.strip().split(b"\n"):
        yield lookup(line.split(b" ", 1)[0].decode())
