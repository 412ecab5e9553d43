// Native tests of gcm.c: NIST CAVS GCMVS files and the DLMS Green Book vectors.
//   test_gcm DECRYPT.rsp ENCRYPT.rsp DLMS.txt
// Prints one line per failure and a closing "N passed, N failed" line.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcm.h"

#define MAX_LEN (4096)

static int passed, failed;

static void check(int ok, const char *file, int count, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s case %d: %s\n", file, count, what);
    }
}

// Parses hex (whitespace ignored) into out; returns the byte count or -1.
static int parse_hex(const char *hex, uint8_t *out, size_t max) {
    size_t n = 0;
    int high = -1;
    for (; *hex; hex++) {
        if (isspace((unsigned char)*hex)) {
            continue;
        }
        if (!isxdigit((unsigned char)*hex)) {
            return -1;
        }
        int v = isdigit((unsigned char)*hex) ? *hex - '0' : (tolower((unsigned char)*hex) - 'a' + 10);
        if (high < 0) {
            high = v;
        } else {
            if (n == max) {
                return -1;
            }
            out[n++] = (uint8_t)(high << 4 | v);
            high = -1;
        }
    }
    return high < 0 ? (int)n : -1;
}

typedef struct {
    uint8_t key[16], iv[12], pt[MAX_LEN], ct[MAX_LEN], aad[MAX_LEN], tag[16];
    int key_len, iv_len, pt_len, ct_len, aad_len, tag_len, fail, count;
} nist_case;

static void run_case(const char *file, int decrypt_file, nist_case *c) {
    static gcm_context ctx;
    static uint8_t out[MAX_LEN], tag[16];
    if (c->key_len != 16 || c->iv_len != 12) {
        check(0, file, c->count, "unexpected key or IV length");
        return;
    }
    gcm_init(&ctx, c->key);
    if (decrypt_file) {
        memset(out, 0xa5, sizeof(out));
        int rc = gcm_decrypt(&ctx, c->iv, c->aad, c->aad_len, c->ct, out, c->ct_len, c->tag, c->tag_len);
        if (c->fail) {
            int zeroed = 1;
            for (int i = 0; i < c->ct_len; i++) {
                zeroed &= out[i] == 0;
            }
            check(rc == GCM_ERR_AUTH && zeroed, file, c->count, "FAIL case not rejected or out not zeroed");
        } else {
            check(rc == GCM_OK && c->pt_len == c->ct_len && memcmp(out, c->pt, c->ct_len) == 0,
                file, c->count, "decrypt");
        }
        // In place must give the same verdict and plaintext.
        memcpy(out, c->ct, c->ct_len);
        rc = gcm_decrypt(&ctx, c->iv, c->aad, c->aad_len, out, out, c->ct_len, c->tag, c->tag_len);
        check(c->fail ? rc == GCM_ERR_AUTH : (rc == GCM_OK && memcmp(out, c->pt, c->ct_len) == 0),
            file, c->count, "decrypt in place");
    } else {
        int rc = gcm_encrypt(&ctx, c->iv, c->aad, c->aad_len, c->pt, out, c->pt_len, tag, c->tag_len);
        check(rc == GCM_OK && c->ct_len == c->pt_len && memcmp(out, c->ct, c->ct_len) == 0
            && memcmp(tag, c->tag, c->tag_len) == 0, file, c->count, "encrypt");
    }
}

// Reads a GCMVS .rsp file; returns the number of cases run.
static int run_rsp(const char *path, int decrypt_file) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    static char line[3 * MAX_LEN];
    static nist_case c;
    int cases = 0, open = 0;
    while (fgets(line, sizeof(line), f)) {
        char *eq = strchr(line, '=');
        char *value = eq ? eq + 1 : NULL;
        if (strncmp(line, "Count", 5) == 0) {
            if (open) {
                run_case(path, decrypt_file, &c);
                cases++;
            }
            memset(&c, 0, sizeof(c));
            c.count = atoi(value);
            open = 1;
        } else if (!open || line[0] == '[' || line[0] == '#') {
            continue;
        } else if (strncmp(line, "FAIL", 4) == 0) {
            c.fail = 1;
        } else if (strncmp(line, "Key", 3) == 0) {
            c.key_len = parse_hex(value, c.key, sizeof(c.key));
        } else if (strncmp(line, "IV", 2) == 0) {
            c.iv_len = parse_hex(value, c.iv, sizeof(c.iv));
        } else if (strncmp(line, "PT", 2) == 0) {
            c.pt_len = parse_hex(value, c.pt, sizeof(c.pt));
        } else if (strncmp(line, "CT", 2) == 0) {
            c.ct_len = parse_hex(value, c.ct, sizeof(c.ct));
        } else if (strncmp(line, "AAD", 3) == 0) {
            c.aad_len = parse_hex(value, c.aad, sizeof(c.aad));
        } else if (strncmp(line, "Tag", 3) == 0) {
            c.tag_len = parse_hex(value, c.tag, sizeof(c.tag));
        }
    }
    if (open) {
        run_case(path, decrypt_file, &c);
        cases++;
    }
    fclose(f);
    return cases;
}

// Finds "\nNAME" (NAME ends with '=') at or after *from and parses the hex after it.
static int field(const char **from, const char *name, uint8_t *out, size_t max) {
    char pattern[64];
    snprintf(pattern, sizeof(pattern), "\n%s", name);
    const char *p = strstr(*from, pattern);
    if (!p) {
        return -1;
    }
    p += strlen(pattern);
    const char *end = strchr(p, '\n');
    char hex[2 * MAX_LEN + 1];
    size_t n = (size_t)(end - p);
    memcpy(hex, p, n);
    hex[n] = 0;
    char *comment = strchr(hex, '(');   // "AAD = 10 || AK || 5036...   (challenge)"
    if (comment) {
        *comment = 0;
    }
    *from = end;
    return parse_hex(hex, out, max);
}

static void run_dlms(const char *path) {
    static char text[1 << 16];
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t n = fread(text + 1, 1, sizeof(text) - 2, f);
    fclose(f);
    text[0] = '\n';
    text[n + 1] = 0;
    gcm_context ctx;
    uint8_t key[16], ak[16], iv[12], pt[64], ct_tag[80], aad[17], out[80], tag[16];

    // Case 1: encryption + authentication with AAD = 0x30 || AK.
    const char *at = text;
    field(&at, "EK  =", key, 16);
    field(&at, "AK  =", ak, 16);
    field(&at, "IV  =", iv, 12);
    int pt_len = field(&at, "PT  =", pt, sizeof(pt));
    int ct_tag_len = field(&at, "CT||Tag12 =", ct_tag, sizeof(ct_tag));
    aad[0] = 0x30;
    memcpy(aad + 1, ak, 16);
    gcm_init(&ctx, key);
    int ct_len = ct_tag_len - 12;
    check(pt_len == ct_len && gcm_decrypt(&ctx, iv, aad, 17, ct_tag, out, ct_len, ct_tag + ct_len, 12) == GCM_OK
        && memcmp(out, pt, pt_len) == 0, path, 1, "green book decrypt");
    gcm_encrypt(&ctx, iv, aad, 17, pt, out, pt_len, tag, 12);
    check(memcmp(out, ct_tag, ct_len) == 0 && memcmp(tag, ct_tag + ct_len, 12) == 0, path, 1,
        "green book encrypt");

    // Case 2: GMAC only, AAD = 0x10 || AK || challenge, empty plaintext.
    uint8_t gmac_aad[25], challenge[8], expected[12];
    field(&at, "IV  =", iv, 12);
    int challenge_len = field(&at, "AAD = 10 || AK ||", challenge, sizeof(challenge));
    field(&at, "Tag12 =", expected, 12);
    gmac_aad[0] = 0x10;
    memcpy(gmac_aad + 1, ak, 16);
    memcpy(gmac_aad + 17, challenge, 8);
    gcm_encrypt(&ctx, iv, gmac_aad, sizeof(gmac_aad), NULL, NULL, 0, tag, 12);
    check(challenge_len == 8 && memcmp(tag, expected, 12) == 0, path, 2, "GMAC tag");

    // Case 3: a whole general-glo-ciphering APDU, short-form length.
    uint8_t frame[128];
    field(&at, "EK = AK = \"MYDUMMYGLOBALKEY\" (ASCII) =", key, 16);
    int frame_len = field(&at, "Frame =", frame, sizeof(frame));
    pt_len = field(&at, "PT    =", pt, sizeof(pt));
    // DB 08 <title 8> <len 1> 30 <counter 4> <ct> <tag 12>
    memcpy(iv, frame + 2, 8);
    memcpy(iv + 8, frame + 12, 4);
    aad[0] = 0x30;
    memcpy(aad + 1, key, 16);
    gcm_init(&ctx, key);
    ct_len = frame_len - 16 - 12;
    check(frame[10] == frame_len - 11 && ct_len == pt_len
        && gcm_decrypt(&ctx, iv, aad, 17, frame + 16, out, ct_len, frame + 16 + ct_len, 12) == GCM_OK
        && memcmp(out, pt, pt_len) == 0, path, 3, "general-glo-ciphering frame");
}

// FIPS-197 Appendix C.1 and tag-length argument checks.
static void run_basics(void) {
    gcm_context ctx;
    uint8_t key[16], block[16], expected[16], out[16];
    parse_hex("000102030405060708090a0b0c0d0e0f", key, 16);
    parse_hex("00112233445566778899aabbccddeeff", block, 16);
    parse_hex("69c4e0d86a7b0430d8cdb78070b4c55a", expected, 16);
    gcm_init(&ctx, key);
    gcm_aes_encrypt_block(&ctx, block, out);
    check(memcmp(out, expected, 16) == 0, "FIPS-197", 1, "AES-128 block");
    uint8_t iv[12] = {0}, tag[17];
    check(gcm_encrypt(&ctx, iv, NULL, 0, NULL, NULL, 0, tag, 11) == GCM_ERR_TAG_LENGTH, "args", 1, "tag 11");
    check(gcm_encrypt(&ctx, iv, NULL, 0, NULL, NULL, 0, tag, 17) == GCM_ERR_TAG_LENGTH, "args", 2, "tag 17");
    check(gcm_decrypt(&ctx, iv, NULL, 0, NULL, NULL, 0, tag, 8) == GCM_ERR_TAG_LENGTH, "args", 3, "tag 8");
    check(gcm_encrypt(&ctx, iv, NULL, 0, NULL, NULL, 0, tag, 16) == GCM_OK, "args", 4, "tag 16");
    check(gcm_decrypt(&ctx, iv, NULL, 0, NULL, NULL, 0, tag, 16) == GCM_OK, "args", 5, "empty round trip");
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s DECRYPT.rsp ENCRYPT.rsp DLMS.txt\n", argv[0]);
        return 2;
    }
    run_basics();
    int decrypt_cases = run_rsp(argv[1], 1);
    int encrypt_cases = run_rsp(argv[2], 0);
    run_dlms(argv[3]);
    printf("gcm (GHASH %d-bit): %d NIST decrypt cases, %d NIST encrypt cases, 3 DLMS vectors\n",
        GCM_GHASH_BITS, decrypt_cases, encrypt_cases);
    printf("%d passed, %d failed\n", passed, failed);
    return failed || decrypt_cases != 375 || encrypt_cases != 375 ? 1 : 0;
}
