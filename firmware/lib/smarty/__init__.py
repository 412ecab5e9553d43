# The P1 protocol core: bytes from a meter in, exact readings out.  No I/O, no
# machine, no network; the same code runs on CPython 3.11 and MicroPython.
#
# const(): MicroPython's compiler puts the value of `_NAME = const(...)` where the name
# is used, and the name is gone (no global, no interned name: heap, where the code is
# loaded as .mpy).  Both packages take it from here; on CPython it is a no-op.

try:
    from micropython import const
except ImportError:

    def const(x):
        return x
