// Decrypt+verify one Smarty-sized frame (1204 bytes of ciphertext, 17-byte AAD,
// 12-byte tag: 1234 bytes on the wire) `count` times; run under callgrind by run.py.
//   gcm_frame COUNT
#include <stdio.h>
#include <stdlib.h>

#include "gcm.h"

int main(int argc, char **argv) {
    int count = argc > 1 ? atoi(argv[1]) : 1;
    static gcm_context ctx;
    static uint8_t key[16], iv[12], aad[17] = {0x30}, pt[1204], ct[1204], out[1204], tag[12];
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)(0xa5 ^ i);
        aad[i + 1] = (uint8_t)(i * 17);
    }
    for (int i = 0; i < 1204; i++) {
        pt[i] = (uint8_t)(32 + i % 90);
    }
    gcm_init(&ctx, key);
    gcm_encrypt(&ctx, iv, aad, sizeof(aad), pt, ct, sizeof(pt), tag, sizeof(tag));
    int failures = 0;
    for (int i = 0; i < count; i++) {
        failures += gcm_decrypt(&ctx, iv, aad, sizeof(aad), ct, out, sizeof(ct), tag, sizeof(tag)) != GCM_OK;
    }
    printf("%d frames, %d failures\n", count, failures);
    return failures != 0;
}
