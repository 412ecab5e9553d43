// MicroPython module `aesgcm`: AES-128-GCM over gcm.c, shaped like cryptolib.
//
//   g = aesgcm.AESGCM(key)                 # 16-byte key; key schedule and GHASH table once
//   pt = g.decrypt(iv, aad, ct, tag)       # ValueError("authentication failed")
//   g.decrypt_into(iv, aad, ct, tag, out)  # out: writable, >= len(ct); allocates nothing;
//                                          # out may be ct itself (in place)
//   ct, tag = g.encrypt(iv, aad, pt, taglen=12)
#include "py/runtime.h"

#include "gcm.h"

#ifndef MICROPY_PY_AESGCM
#define MICROPY_PY_AESGCM (1)
#endif

#if MICROPY_PY_AESGCM

typedef struct _mp_obj_aesgcm_t {
    mp_obj_base_t base;
    gcm_context ctx;
} mp_obj_aesgcm_t;

// The buffers of one call, their lengths checked.
typedef struct {
    mp_buffer_info_t iv, aad, data, tag;
} aesgcm_args_t;

static void aesgcm_get_args(aesgcm_args_t *args, mp_obj_t iv, mp_obj_t aad, mp_obj_t data, mp_obj_t tag) {
    mp_get_buffer_raise(iv, &args->iv, MP_BUFFER_READ);
    mp_get_buffer_raise(aad, &args->aad, MP_BUFFER_READ);
    mp_get_buffer_raise(data, &args->data, MP_BUFFER_READ);
    if (args->iv.len != GCM_IV_SIZE) {
        mp_raise_ValueError(MP_ERROR_TEXT("IV must be 12 bytes"));
    }
    if (tag != MP_OBJ_NULL) {
        mp_get_buffer_raise(tag, &args->tag, MP_BUFFER_READ);
        if (args->tag.len < GCM_TAG_MIN || args->tag.len > GCM_TAG_MAX) {
            mp_raise_ValueError(MP_ERROR_TEXT("tag must be 12 to 16 bytes"));
        }
    }
}

static mp_obj_t aesgcm_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 1, 1, false);
    mp_buffer_info_t key;
    mp_get_buffer_raise(args[0], &key, MP_BUFFER_READ);
    if (key.len != GCM_KEY_SIZE) {
        mp_raise_ValueError(MP_ERROR_TEXT("key must be 16 bytes"));
    }
    mp_obj_aesgcm_t *self = mp_obj_malloc(mp_obj_aesgcm_t, type);
    gcm_init(&self->ctx, key.buf);
    return MP_OBJ_FROM_PTR(self);
}

static void aesgcm_decrypt_checked(mp_obj_aesgcm_t *self, const aesgcm_args_t *a, uint8_t *out) {
    if (gcm_decrypt(&self->ctx, a->iv.buf, a->aad.buf, a->aad.len, a->data.buf, out, a->data.len,
        a->tag.buf, a->tag.len) != GCM_OK) {
        mp_raise_ValueError(MP_ERROR_TEXT("authentication failed"));
    }
}

// decrypt(iv, aad, ct, tag) -> bytes
static mp_obj_t aesgcm_decrypt(size_t n_args, const mp_obj_t *args) {
    mp_obj_aesgcm_t *self = MP_OBJ_TO_PTR(args[0]);
    aesgcm_args_t a;
    aesgcm_get_args(&a, args[1], args[2], args[3], args[4]);
    vstr_t vstr;
    vstr_init_len(&vstr, a.data.len);
    aesgcm_decrypt_checked(self, &a, (uint8_t *)vstr.buf);
    return mp_obj_new_bytes_from_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(aesgcm_decrypt_obj, 5, 5, aesgcm_decrypt);

// decrypt_into(iv, aad, ct, tag, out) -> None.  When the tag is wrong out is zeroed,
// unless it is ct itself (in place), which is then left as it was.
static mp_obj_t aesgcm_decrypt_into(size_t n_args, const mp_obj_t *args) {
    mp_obj_aesgcm_t *self = MP_OBJ_TO_PTR(args[0]);
    aesgcm_args_t a;
    aesgcm_get_args(&a, args[1], args[2], args[3], args[4]);
    mp_buffer_info_t out;
    mp_get_buffer_raise(args[5], &out, MP_BUFFER_WRITE);
    if (out.len < a.data.len) {
        mp_raise_ValueError(MP_ERROR_TEXT("out buffer too small"));
    }
    aesgcm_decrypt_checked(self, &a, out.buf);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(aesgcm_decrypt_into_obj, 6, 6, aesgcm_decrypt_into);

// encrypt(iv, aad, pt, taglen=12) -> (ct, tag)
static mp_obj_t aesgcm_encrypt(size_t n_args, const mp_obj_t *pos_args, mp_map_t *kw_args) {
    enum { ARG_iv, ARG_aad, ARG_pt, ARG_taglen };
    static const mp_arg_t allowed_args[] = {
        { MP_QSTR_iv, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_aad, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_pt, MP_ARG_REQUIRED | MP_ARG_OBJ, {.u_rom_obj = MP_ROM_NONE} },
        { MP_QSTR_taglen, MP_ARG_INT, {.u_int = 12} },
    };
    mp_arg_val_t args[MP_ARRAY_SIZE(allowed_args)];
    mp_arg_parse_all(n_args - 1, pos_args + 1, kw_args, MP_ARRAY_SIZE(allowed_args), allowed_args, args);
    mp_obj_aesgcm_t *self = MP_OBJ_TO_PTR(pos_args[0]);
    aesgcm_args_t a;
    aesgcm_get_args(&a, args[ARG_iv].u_obj, args[ARG_aad].u_obj, args[ARG_pt].u_obj, MP_OBJ_NULL);
    mp_int_t taglen = args[ARG_taglen].u_int;
    if (taglen < GCM_TAG_MIN || taglen > GCM_TAG_MAX) {
        mp_raise_ValueError(MP_ERROR_TEXT("tag must be 12 to 16 bytes"));
    }
    vstr_t ct;
    vstr_init_len(&ct, a.data.len);
    uint8_t tag[GCM_TAG_MAX];
    gcm_encrypt(&self->ctx, a.iv.buf, a.aad.buf, a.aad.len, a.data.buf, (uint8_t *)ct.buf, a.data.len,
        tag, (size_t)taglen);
    mp_obj_t items[2] = { mp_obj_new_bytes_from_vstr(&ct), mp_obj_new_bytes(tag, (size_t)taglen) };
    return mp_obj_new_tuple(2, items);
}
static MP_DEFINE_CONST_FUN_OBJ_KW(aesgcm_encrypt_obj, 4, aesgcm_encrypt);

static const mp_rom_map_elem_t aesgcm_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_decrypt), MP_ROM_PTR(&aesgcm_decrypt_obj) },
    { MP_ROM_QSTR(MP_QSTR_decrypt_into), MP_ROM_PTR(&aesgcm_decrypt_into_obj) },
    { MP_ROM_QSTR(MP_QSTR_encrypt), MP_ROM_PTR(&aesgcm_encrypt_obj) },
};
static MP_DEFINE_CONST_DICT(aesgcm_locals_dict, aesgcm_locals_dict_table);

static MP_DEFINE_CONST_OBJ_TYPE(
    aesgcm_type,
    MP_QSTR_AESGCM,
    MP_TYPE_FLAG_NONE,
    make_new, aesgcm_make_new,
    locals_dict, &aesgcm_locals_dict
    );

static const mp_rom_map_elem_t aesgcm_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_aesgcm) },
    { MP_ROM_QSTR(MP_QSTR_AESGCM), MP_ROM_PTR(&aesgcm_type) },
    { MP_ROM_QSTR(MP_QSTR_GHASH_BITS), MP_ROM_INT(GCM_GHASH_BITS) },
};
static MP_DEFINE_CONST_DICT(aesgcm_module_globals, aesgcm_module_globals_table);

const mp_obj_module_t mp_module_aesgcm = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&aesgcm_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_aesgcm, mp_module_aesgcm);

#endif // MICROPY_PY_AESGCM
