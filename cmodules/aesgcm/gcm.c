// AES-128-GCM, see gcm.h.
//
// AES uses the classic four 1 KiB T-tables (FIPS-197 round as four lookups per
// column); GHASH uses Shoup's method with a per-key table of GCM_GHASH_BITS-bit
// multiples of H and a constant reduction table.  Decryption authenticates before it
// writes a single byte of plaintext.
#include <string.h>

#include "gcm.h"
#include "gcm_tables.h"

// Built for size (-Os, as the ESP ports are), AES uses one 1 KiB T-table and
// rotates; otherwise four tables, one lookup each.
#if defined(__OPTIMIZE_SIZE__) && !defined(GCM_AES_FOUR_TABLES)
#define GCM_AES_FOUR_TABLES (0)
#elif !defined(GCM_AES_FOUR_TABLES)
#define GCM_AES_FOUR_TABLES (1)
#endif
#if GCM_AES_FOUR_TABLES
#define TE(n, x) aes_te##n[x]
#else
#define TE(n, x) (n == 0 ? aes_te0[x] : ror32(aes_te0[x], 8 * n))
static inline uint32_t ror32(uint32_t v, int n) {
    return v >> n | v << (32 - n);
}
#endif

#define LOAD32(p) ((uint32_t)(p)[0] << 24 | (uint32_t)(p)[1] << 16 | (uint32_t)(p)[2] << 8 | (p)[3])

static inline void store32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint64_t load64(const uint8_t *p) {
    return (uint64_t)LOAD32(p) << 32 | LOAD32(p + 4);
}

static inline void store64(uint8_t *p, uint64_t v) {
    store32(p, (uint32_t)(v >> 32));
    store32(p + 4, (uint32_t)v);
}

// ---- AES-128 forward cipher ----

static void aes_expand_key(uint32_t rk[44], const uint8_t key[16]) {
    static const uint8_t rcon[10] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1b, 0x36};
    for (int i = 0; i < 4; i++) {
        rk[i] = LOAD32(key + 4 * i);
    }
    for (int i = 4; i < 44; i++) {
        uint32_t t = rk[i - 1];
        if ((i & 3) == 0) {
            // RotWord, SubWord, Rcon
            t = (uint32_t)aes_sbox[(t >> 16) & 0xff] << 24 | (uint32_t)aes_sbox[(t >> 8) & 0xff] << 16
                | (uint32_t)aes_sbox[t & 0xff] << 8 | aes_sbox[t >> 24];
            t ^= (uint32_t)rcon[(i >> 2) - 1] << 24;
        }
        rk[i] = rk[i - 4] ^ t;
    }
}

#define AES_ROUND(d0, d1, d2, d3, s0, s1, s2, s3, k) \
    d0 = TE(0, s0 >> 24) ^ TE(1, (s1 >> 16) & 0xff) ^ TE(2, (s2 >> 8) & 0xff) ^ TE(3, s3 & 0xff) ^ (k)[0]; \
    d1 = TE(0, s1 >> 24) ^ TE(1, (s2 >> 16) & 0xff) ^ TE(2, (s3 >> 8) & 0xff) ^ TE(3, s0 & 0xff) ^ (k)[1]; \
    d2 = TE(0, s2 >> 24) ^ TE(1, (s3 >> 16) & 0xff) ^ TE(2, (s0 >> 8) & 0xff) ^ TE(3, s1 & 0xff) ^ (k)[2]; \
    d3 = TE(0, s3 >> 24) ^ TE(1, (s0 >> 16) & 0xff) ^ TE(2, (s1 >> 8) & 0xff) ^ TE(3, s2 & 0xff) ^ (k)[3]

#define AES_LAST(s0, s1, s2, s3, k) \
    ((uint32_t)aes_sbox[s0 >> 24] << 24 ^ (uint32_t)aes_sbox[(s1 >> 16) & 0xff] << 16 \
    ^ (uint32_t)aes_sbox[(s2 >> 8) & 0xff] << 8 ^ aes_sbox[s3 & 0xff] ^ (k))

// Rounds 2..10 on the state (s0..s3) that round 1 produced; result in out[4].
static void aes_rounds_2_to_10(const uint32_t *rk, uint32_t s0, uint32_t s1, uint32_t s2, uint32_t s3,
    uint32_t out[4]) {
    uint32_t t0, t1, t2, t3;
    for (int round = 2; round < 10; round += 2) {
        AES_ROUND(t0, t1, t2, t3, s0, s1, s2, s3, rk + 4 * round);
        AES_ROUND(s0, s1, s2, s3, t0, t1, t2, t3, rk + 4 * round + 4);
    }
    out[0] = AES_LAST(s0, s1, s2, s3, rk[40]);
    out[1] = AES_LAST(s1, s2, s3, s0, rk[41]);
    out[2] = AES_LAST(s2, s3, s0, s1, rk[42]);
    out[3] = AES_LAST(s3, s0, s1, s2, rk[43]);
}

// Encrypts the block (w0, w1, w2, w3) given as big-endian words, result in out[4].
static void aes_encrypt_words(const uint32_t *rk, uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3,
    uint32_t out[4]) {
    uint32_t s0 = w0 ^ rk[0], s1 = w1 ^ rk[1], s2 = w2 ^ rk[2], s3 = w3 ^ rk[3], t0, t1, t2, t3;
    AES_ROUND(t0, t1, t2, t3, s0, s1, s2, s3, rk + 4);
    aes_rounds_2_to_10(rk, t0, t1, t2, t3, out);
}

void gcm_aes_encrypt_block(const gcm_context *ctx, const uint8_t in[16], uint8_t out[16]) {
    uint32_t w[4];
    aes_encrypt_words(ctx->round_keys, LOAD32(in), LOAD32(in + 4), LOAD32(in + 8), LOAD32(in + 12), w);
    for (int i = 0; i < 4; i++) {
        store32(out + 4 * i, w[i]);
    }
}

// ---- GHASH ----

// Shifts the 128-bit value (high, low) right by GCM_GHASH_BITS with reduction
// and adds the table entry for `index`.
#define GHASH_STEP(ctx, high, low, index) do { \
        unsigned rem_ = (unsigned)(low) & ((1u << GCM_GHASH_BITS) - 1); \
        low = (high) << (64 - GCM_GHASH_BITS) | (low) >> GCM_GHASH_BITS; \
        high = (high) >> GCM_GHASH_BITS ^ GHASH_REM(rem_); \
        high ^= (ctx)->h_table[index].high; \
        low ^= (ctx)->h_table[index].low; \
} while (0)

void gcm_init(gcm_context *ctx, const uint8_t key[GCM_KEY_SIZE]) {
    const size_t n = (size_t)1 << GCM_GHASH_BITS;
    aes_expand_key(ctx->round_keys, key);
    uint32_t h[4];
    aes_encrypt_words(ctx->round_keys, 0, 0, 0, 0, h);
    uint64_t high = (uint64_t)h[0] << 32 | h[1], low = (uint64_t)h[2] << 32 | h[3];
    // In GHASH's reflected bit order the top table bit (index n/2) is H itself, and
    // each lower power of two is the previous one times x (a right shift by one).
    ctx->h_table[0].high = ctx->h_table[0].low = 0;
    for (size_t i = n >> 1; i > 0; i >>= 1) {
        ctx->h_table[i].high = high;
        ctx->h_table[i].low = low;
        uint64_t carry = low & 1;
        low = high << 63 | low >> 1;
        high = high >> 1 ^ ((0 - carry) & 0xe100000000000000ull);
    }
    for (size_t i = 2; i < n; i <<= 1) {
        for (size_t j = 1; j < i; j++) {
            ctx->h_table[i + j].high = ctx->h_table[i].high ^ ctx->h_table[j].high;
            ctx->h_table[i + j].low = ctx->h_table[i].low ^ ctx->h_table[j].low;
        }
    }
}

// Adds one 64-bit half of the input to the product, last chunk first.
#define GHASH_WORD(ctx, high, low, word) do { \
        for (int i_ = 0; i_ < 64; i_ += GCM_GHASH_BITS) { \
            GHASH_STEP(ctx, high, low, (word) & ((1u << GCM_GHASH_BITS) - 1)); \
            word >>= GCM_GHASH_BITS; \
        } \
} while (0)

// y = (y ^ block) * H, y as (high, low) big-endian halves.  Horner's rule over the
// chunks from the end of the block back to its start (byte 15's low bits are the
// highest powers of x); the first step shifts zero.
static void ghash_block(const gcm_context *ctx, uint64_t y[2], const uint8_t block[16]) {
    uint64_t in_high = y[0] ^ load64(block), in_low = y[1] ^ load64(block + 8);
    uint64_t high = 0, low = 0;
    #ifndef __OPTIMIZE_SIZE__
    #pragma GCC unroll 16
    #endif
    GHASH_WORD(ctx, high, low, in_low);
    #ifndef __OPTIMIZE_SIZE__
    #pragma GCC unroll 16
    #endif
    GHASH_WORD(ctx, high, low, in_high);
    y[0] = high;
    y[1] = low;
}

static void ghash_update(const gcm_context *ctx, uint64_t y[2], const uint8_t *data, size_t len) {
    for (; len >= 16; data += 16, len -= 16) {
        ghash_block(ctx, y, data);
    }
    if (len > 0) {
        uint8_t last[16] = {0};
        memcpy(last, data, len);
        ghash_block(ctx, y, last);
    }
}

// GHASH over aad and ciphertext plus the length block, then the tag mask.
static void gcm_compute_tag(const gcm_context *ctx, const uint8_t iv[GCM_IV_SIZE],
    const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t len, uint8_t tag[16]) {
    uint64_t y[2] = {0, 0};
    uint8_t block[16];
    ghash_update(ctx, y, aad, aad_len);
    ghash_update(ctx, y, ct, len);
    store64(block, (uint64_t)aad_len << 3);
    store64(block + 8, (uint64_t)len << 3);
    ghash_block(ctx, y, block);
    // Tag = GHASH ^ E(K, IV || 1)
    uint32_t mask[4];
    aes_encrypt_words(ctx->round_keys, LOAD32(iv), LOAD32(iv + 4), LOAD32(iv + 8), 1, mask);
    store64(tag, y[0] ^ ((uint64_t)mask[0] << 32 | mask[1]));
    store64(tag + 8, y[1] ^ ((uint64_t)mask[2] << 32 | mask[3]));
}

// CTR mode from counter 2 (counter 1 masks the tag).  Only the last word of the
// counter block changes, so three quarters of round 1 are the same for every block
// of a message: they are computed once per call.
static void gcm_ctr(const gcm_context *ctx, const uint8_t iv[GCM_IV_SIZE],
    const uint8_t *in, uint8_t *out, size_t len) {
    const uint32_t *rk = ctx->round_keys;
    const uint32_t s0 = LOAD32(iv) ^ rk[0], s1 = LOAD32(iv + 4) ^ rk[1], s2 = LOAD32(iv + 8) ^ rk[2];
    const uint32_t p0 = TE(0, s0 >> 24) ^ TE(1, (s1 >> 16) & 0xff) ^ TE(2, (s2 >> 8) & 0xff) ^ rk[4];
    const uint32_t p1 = TE(0, s1 >> 24) ^ TE(1, (s2 >> 16) & 0xff) ^ TE(3, s0 & 0xff) ^ rk[5];
    const uint32_t p2 = TE(0, s2 >> 24) ^ TE(2, (s0 >> 8) & 0xff) ^ TE(3, s1 & 0xff) ^ rk[6];
    const uint32_t p3 = TE(1, (s0 >> 16) & 0xff) ^ TE(2, (s1 >> 8) & 0xff) ^ TE(3, s2 & 0xff) ^ rk[7];
    uint32_t counter = 2;
    uint8_t stream[16];
    while (len > 0) {
        uint32_t s3 = counter++ ^ rk[3], w[4];
        aes_rounds_2_to_10(rk, p0 ^ TE(3, s3 & 0xff), p1 ^ TE(2, (s3 >> 8) & 0xff),
            p2 ^ TE(1, (s3 >> 16) & 0xff), p3 ^ TE(0, s3 >> 24), w);
        size_t n = len < 16 ? len : 16;
        if (n == 16) {
            for (int i = 0; i < 4; i++) {
                store32(out + 4 * i, LOAD32(in + 4 * i) ^ w[i]);
            }
        } else {
            for (int i = 0; i < 4; i++) {
                store32(stream + 4 * i, w[i]);
            }
            for (size_t i = 0; i < n; i++) {
                out[i] = in[i] ^ stream[i];
            }
        }
        in += n;
        out += n;
        len -= n;
    }
}

int gcm_encrypt(const gcm_context *ctx, const uint8_t iv[GCM_IV_SIZE],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, uint8_t *out, size_t len,
    uint8_t *tag, size_t tag_len) {
    if (tag_len < GCM_TAG_MIN || tag_len > GCM_TAG_MAX) {
        return GCM_ERR_TAG_LENGTH;
    }
    uint8_t full_tag[16];
    gcm_ctr(ctx, iv, in, out, len);
    gcm_compute_tag(ctx, iv, aad, aad_len, out, len, full_tag);
    memcpy(tag, full_tag, tag_len);
    return GCM_OK;
}

int gcm_decrypt(const gcm_context *ctx, const uint8_t iv[GCM_IV_SIZE],
    const uint8_t *aad, size_t aad_len, const uint8_t *in, uint8_t *out, size_t len,
    const uint8_t *tag, size_t tag_len) {
    if (tag_len < GCM_TAG_MIN || tag_len > GCM_TAG_MAX) {
        return GCM_ERR_TAG_LENGTH;
    }
    uint8_t expected[16];
    gcm_compute_tag(ctx, iv, aad, aad_len, in, len, expected);
    uint8_t diff = 0;   // constant time: no early exit on the first differing byte
    for (size_t i = 0; i < tag_len; i++) {
        diff |= expected[i] ^ tag[i];
    }
    if (diff != 0) {
        if (out != in) {
            memset(out, 0, len);
        }
        return GCM_ERR_AUTH;
    }
    gcm_ctr(ctx, iv, in, out, len);
    return GCM_OK;
}
