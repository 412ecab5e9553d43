// AES-128-GCM (NIST SP 800-38D) for the Smarty P1 reader.
//
// Portable C99: no heap, no division, no MicroPython includes, constant tables.
// Only 96-bit IVs (the DLMS IV is system title || frame counter).
#ifndef AESGCM_GCM_H
#define AESGCM_GCM_H

#include <stddef.h>
#include <stdint.h>

#define GCM_KEY_SIZE (16)
#define GCM_IV_SIZE (12)
#define GCM_TAG_MIN (12)
#define GCM_TAG_MAX (16)

// GHASH table width: 8 bits (4 KiB per key, about twice as fast) on 64-bit hosts,
// 4 bits (256 bytes per key) on 32-bit targets such as the ESP8266, whose heap is small.
#ifndef GCM_GHASH_BITS
#if UINTPTR_MAX > 0xffffffffu
#define GCM_GHASH_BITS (8)
#else
#define GCM_GHASH_BITS (4)
#endif
#endif

enum {
    GCM_OK = 0,
    GCM_ERR_TAG_LENGTH = -1,    // tag length outside 12..16
    GCM_ERR_AUTH = -2,          // tag mismatch: wrong key or corrupted data
};

typedef struct {
    uint32_t round_keys[44];
    // h_table[n] is n * H in GHASH bit order, as high and low 64 bits.
    struct {
        uint64_t high, low;
    } h_table[1 << GCM_GHASH_BITS];
} gcm_context;

// Expands the key and precomputes the GHASH table; the context is then read-only.
void gcm_init(gcm_context *ctx, const uint8_t key[GCM_KEY_SIZE]);

// Encrypts len bytes (in and out may be the same buffer) and writes a tag_len-byte tag.
int gcm_encrypt(const gcm_context *ctx, const uint8_t iv[GCM_IV_SIZE],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, uint8_t *out, size_t len,
    uint8_t *tag, size_t tag_len);

// Verifies the tag first, then decrypts (in and out may be the same buffer).
// On GCM_ERR_AUTH out holds no plaintext: it is zeroed, or, decrypting in place, it
// keeps the ciphertext untouched (a caller may still look inside a rejected frame).
int gcm_decrypt(const gcm_context *ctx, const uint8_t iv[GCM_IV_SIZE],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, uint8_t *out, size_t len,
    const uint8_t *tag, size_t tag_len);

// The forward AES-128 cipher on one block (exposed for tests).
void gcm_aes_encrypt_block(const gcm_context *ctx, const uint8_t in[16], uint8_t out[16]);

#endif // AESGCM_GCM_H
