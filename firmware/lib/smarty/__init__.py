# The P1 protocol core: bytes from a meter in, exact readings out.  No I/O, no
# machine, no network; the same code runs on CPython 3.11 and MicroPython.
