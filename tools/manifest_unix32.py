# The 32-bit unix build: as a board's custom firmware, the application frozen in too.
include("manifest_unix.py")
include("../firmware/manifest.py")
