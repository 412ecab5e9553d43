# framer_alloc.py: heap used by the framer scanning 2000 bytes of noise (no frame
# start in it), fed through space()/received()/frame() as the firmware does.
import gc

from smarty.framer import Framer


def main():
    framer = Framer(2048)
    noise = (
        bytes((i * 7 + 1) % 256 for i in range(2000))
        .replace(b"\xdb", b"\x00")
        .replace(b"/", b"\x00")
    )
    gc.collect()
    before = gc.mem_alloc()
    space = framer.space()
    space[: len(noise)] = noise
    framer.received(len(noise))
    frame = framer.frame()
    allocated = gc.mem_alloc() - before
    print("frame=%s" % (frame is not None))
    print("noise=%d" % framer.noise_bytes)
    print("allocated=%d" % allocated)


main()
