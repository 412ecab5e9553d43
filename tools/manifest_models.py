# The board models' names (host_tests/models), frozen into the 32-bit builds that run
# the firmware as on a board.  On a board, machine, network, os and socket are C: their
# names are the image's (static qstrs).  The models are Python, compiled from
# host_tests/models at import: their code and objects are on the heap, and what they
# cost is given back (tools/p1harness.py, BoardModel.heapsize()).  Their names were not:
# interned on the heap, they took about 110 entries of its qstr pools, and the
# firmware's own names reached a new pool (ports double it: 640 entries, 4.5 KB at 32
# bits; py/qstr.c, qstr_add) sooner than on a board.  Frozen here as a package "models"
# that nothing imports, they are the image's names, as on a board.
freeze(
    "../host_tests", ("models/machine.py", "models/network.py", "models/os.py", "models/socket.py")
)
