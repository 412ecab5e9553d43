// `aesgcm` as a dynamic native module (.mpy with machine code) for stock firmware.
//
// The C part exports plain functions over buffers that return status codes; the
// merged aesgcm_api.py turns them into the AESGCM class and its exceptions.  No qstr
// is used anywhere: with MicroPython 1.25's mpy_ld, qstr references do not link for
// xtensa (ESP8266), so names are registered as str objects.
#include "py/dynruntime.h"

#include "gcm.h"

// gcm.c's memcpy/memset calls, served by the firmware (there is no libc to link).
void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}

void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}

enum {
    STATUS_OK = 0,
    STATUS_AUTH = 1,        // tag mismatch
    STATUS_LENGTH = 2,      // a length the Python side should have checked
    STATUS_ALIGNMENT = 3,   // the context buffer is not 8-byte aligned
};

static gcm_context *context_of(mp_obj_t obj, int *status) {
    mp_buffer_info_t buf;
    mp_get_buffer_raise(obj, &buf, MP_BUFFER_WRITE);
    if (buf.len < sizeof(gcm_context)) {
        *status = STATUS_LENGTH;
        return NULL;
    }
    if (((uintptr_t)buf.buf & 7) != 0) {
        *status = STATUS_ALIGNMENT;
        return NULL;
    }
    return buf.buf;
}

// _init(context, key) -> status
static mp_obj_t natmod_init(mp_obj_t context_obj, mp_obj_t key_obj) {
    int status = STATUS_OK;
    gcm_context *ctx = context_of(context_obj, &status);
    mp_buffer_info_t key;
    mp_get_buffer_raise(key_obj, &key, MP_BUFFER_READ);
    if (ctx != NULL && key.len == GCM_KEY_SIZE) {
        gcm_init(ctx, key.buf);
    } else if (status == STATUS_OK) {
        status = STATUS_LENGTH;
    }
    return mp_obj_new_int(status);
}
static MP_DEFINE_CONST_FUN_OBJ_2(natmod_init_obj, natmod_init);

// _crypt(context, iv, aad, data, tag, out, decrypt) -> status
// decrypt: verify tag, then decrypt data into out; else encrypt data into out and
// write len(tag) bytes of tag.
static mp_obj_t natmod_crypt(size_t n_args, const mp_obj_t *args) {
    int status = STATUS_OK;
    gcm_context *ctx = context_of(args[0], &status);
    mp_buffer_info_t iv, aad, data, tag, out;
    mp_get_buffer_raise(args[1], &iv, MP_BUFFER_READ);
    mp_get_buffer_raise(args[2], &aad, MP_BUFFER_READ);
    mp_get_buffer_raise(args[3], &data, MP_BUFFER_READ);
    mp_get_buffer_raise(args[5], &out, MP_BUFFER_WRITE);
    int decrypt = mp_obj_is_true(args[6]);
    mp_get_buffer_raise(args[4], &tag, decrypt ? MP_BUFFER_READ : MP_BUFFER_WRITE);
    if (ctx == NULL) {
        return mp_obj_new_int(status);
    }
    if (iv.len != GCM_IV_SIZE || out.len < data.len) {
        return mp_obj_new_int(STATUS_LENGTH);
    }
    int rc = decrypt
        ? gcm_decrypt(ctx, iv.buf, aad.buf, aad.len, data.buf, out.buf, data.len, tag.buf, tag.len)
        : gcm_encrypt(ctx, iv.buf, aad.buf, aad.len, data.buf, out.buf, data.len, tag.buf, tag.len);
    return mp_obj_new_int(rc == GCM_OK ? STATUS_OK : rc == GCM_ERR_AUTH ? STATUS_AUTH : STATUS_LENGTH);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(natmod_crypt_obj, 7, 7, natmod_crypt);

static void store(mp_obj_t globals, const char *name, size_t len, mp_obj_t value) {
    mp_obj_dict_store(globals, mp_obj_new_str(name, len), value);
}

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_obj_t globals = MP_OBJ_FROM_PTR(self->context->module.globals);
    store(globals, "_init", 5, MP_OBJ_FROM_PTR(&natmod_init_obj));
    store(globals, "_crypt", 6, MP_OBJ_FROM_PTR(&natmod_crypt_obj));
    store(globals, "_CONTEXT_SIZE", 13, mp_obj_new_int(sizeof(gcm_context)));
    store(globals, "GHASH_BITS", 10, mp_obj_new_int(GCM_GHASH_BITS));
    MP_DYNRUNTIME_INIT_EXIT
}
