# CRC16/ARC in viper: the fast twin of the pure-Python CRC in dsmr.py, used where
# the firmware has the viper emitter (every ESP port does).

import micropython


@micropython.viper
def crc16_arc(data, start: int, end: int) -> int:
    """CRC16/ARC (reflected polynomial 0xA001, init 0) of data[start:end]."""
    buf = ptr8(data)
    crc = 0
    i = start
    while i < end:
        crc ^= buf[i]
        bit = 0
        while bit < 8:
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc = crc >> 1
            bit += 1
        i += 1
    return crc
