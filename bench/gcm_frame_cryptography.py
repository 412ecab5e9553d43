"""Decrypt+verify one Smarty-sized frame COUNT times with `cryptography` (OpenSSL),
the way a CPython reader does it; run under callgrind by run.py."""

import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

count = int(sys.argv[1])
key, iv, aad = bytes(range(16)), bytes(12), b"\x30" + bytes(range(16))
pt = bytes(32 + i % 90 for i in range(1204))
encryptor = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
encryptor.authenticate_additional_data(aad)
ct = encryptor.update(pt) + encryptor.finalize()
tag = encryptor.tag[:12]
for _ in range(count):
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=12)).decryptor()
    decryptor.authenticate_additional_data(aad)
    assert decryptor.update(ct) + decryptor.finalize() == pt
print(count, "frames")
