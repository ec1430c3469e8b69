/*
 * Batch AEAD for ESP on the OpenSSL that Node links (its EVP symbols are exported by the node
 * binary; the headers come with Node's in /usr/include/node/openssl).
 *
 * RFC 4303 §2 layout, in place, at `esp` inside the caller's buffer:
 *   SPI(4) | seq low(4) | IV(8) | plaintext or ciphertext (len) | ICV(16)
 * Nonce = salt(4) || IV(8) (RFC 4106 §4, RFC 7634 §2); AAD = SPI || seq low, or with ESN
 * SPI || seq high || seq low (RFC 4303 §2.2.1, RFC 4106 §5, RFC 7634 §2.1).
 *
 * One EVP_CIPHER_CTX per SA context, keyed once at creation; per packet only the nonce is set,
 * so the AES key schedule / ChaCha20 key setup is never redone. The context is wiped and freed by
 * aeadFree, or by the JS handle's finalizer when the caller forgot to.
 */
#include "iro.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 4
#define NONCE_LEN (SALT_LEN + IRO_ESP_IV_LEN)
#define AAD_MAX 12
/* Contexts resolved on the stack per call before falling back to the heap. */
#define CTX_CACHE_STACK 64

static const napi_type_tag AEAD_TAG = {0x69726f5f61656164ULL, 0x5f636f6e74657874ULL};

typedef struct {
  EVP_CIPHER_CTX *ctx; /* NULL once freed */
  uint8_t salt[SALT_LEN];
  int esn;
} aead_t;

static void aead_wipe(aead_t *a) {
  /* EVP_CIPHER_CTX_free clears the provider context (key schedule) with OPENSSL_clear_free. */
  EVP_CIPHER_CTX_free(a->ctx);
  a->ctx = NULL;
  OPENSSL_cleanse(a->salt, sizeof a->salt);
}

static void aead_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  aead_t *a = (aead_t *)data;
  aead_wipe(a);
  free(a);
}

/* aeadCreate(suite, key, salt, esn) -> handle */
static napi_value js_aead_create(napi_env env, napi_callback_info info) {
  napi_value argv[4], handle;
  char suite[32];
  uint8_t *key, *salt;
  size_t key_len, salt_len;
  int esn;
  if (!iro_args(env, info, 4, argv) || !iro_get_string(env, argv[0], "suite", suite, sizeof suite) ||
      !iro_get_typed(env, argv[1], "key", napi_uint8_array, 0, (void **)&key, &key_len) ||
      !iro_get_typed(env, argv[2], "salt", napi_uint8_array, 0, (void **)&salt, &salt_len) ||
      !iro_get_bool(env, argv[3], "esn", &esn)) {
    return NULL;
  }
  const EVP_CIPHER *cipher;
  size_t want;
  if (strcmp(suite, "aes128gcm16") == 0) {
    cipher = EVP_aes_128_gcm();
    want = 16;
  } else if (strcmp(suite, "aes192gcm16") == 0) {
    cipher = EVP_aes_192_gcm();
    want = 24;
  } else if (strcmp(suite, "aes256gcm16") == 0) {
    cipher = EVP_aes_256_gcm();
    want = 32;
  } else if (strcmp(suite, "chacha20poly1305") == 0) {
    cipher = EVP_chacha20_poly1305();
    want = 32;
  } else {
    iro_throw_range(env, "suite must be one of aes128gcm16, aes192gcm16, aes256gcm16, chacha20poly1305");
    return NULL;
  }
  if (key_len != want) {
    iro_throw_range(env, "key length does not match the suite");
    return NULL;
  }
  if (salt_len != SALT_LEN) {
    iro_throw_range(env, "salt must be 4 bytes long");
    return NULL;
  }
  aead_t *a = calloc(1, sizeof *a);
  if (a == NULL) {
    iro_throw_code(env, "ENOMEM", "out of memory");
    return NULL;
  }
  a->esn = esn;
  memcpy(a->salt, salt, SALT_LEN);
  /* Both suites default to a 12-byte nonce, which is what ESP uses. */
  a->ctx = EVP_CIPHER_CTX_new();
  if (a->ctx == NULL || EVP_CipherInit_ex(a->ctx, cipher, NULL, key, NULL, 1) != 1) {
    aead_wipe(a);
    free(a);
    iro_throw_code(env, "ERR_CRYPTO", "OpenSSL refused to set up the AEAD context");
    return NULL;
  }
  if (napi_create_external(env, a, aead_finalize, NULL, &handle) != napi_ok) {
    aead_wipe(a);
    free(a);
    iro_throw_napi(env, "napi_create_external");
    return NULL;
  }
  IRO_NAPI(env, napi_type_tag_object(env, handle, &AEAD_TAG));
  return handle;
}

static aead_t *get_aead(napi_env env, napi_value v) {
  bool tagged = false;
  void *p = NULL;
  if (napi_check_object_type_tag(env, v, &AEAD_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &p) != napi_ok) {
    iro_throw_type(env, "AEAD context handle expected");
    return NULL;
  }
  return (aead_t *)p;
}

/* aeadFree(handle): wipes and frees now; idempotent. */
static napi_value js_aead_free(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  aead_t *a;
  if (!iro_args(env, info, 1, argv) || (a = get_aead(env, argv[0])) == NULL) return NULL;
  aead_wipe(a);
  return NULL;
}

/* Seals (enc = 1) or opens (enc = 0) one packet in place. Returns 1 on success; for open, 0 means
 * the tag did not verify (the bytes are then unspecified). */
static int aead_one(aead_t *a, uint8_t *esp, uint32_t len, uint32_t seq_hi, int enc) {
  uint8_t nonce[NONCE_LEN], aad[AAD_MAX], scratch[EVP_MAX_BLOCK_LENGTH];
  size_t aad_len;
  int outl;
  uint8_t *text = esp + IRO_ESP_HDR_LEN + IRO_ESP_IV_LEN;
  uint8_t *icv = text + len;
  memcpy(nonce, a->salt, SALT_LEN);
  memcpy(nonce + SALT_LEN, esp + IRO_ESP_HDR_LEN, IRO_ESP_IV_LEN);
  memcpy(aad, esp, 4); /* SPI */
  if (a->esn) {
    aad[4] = (uint8_t)(seq_hi >> 24);
    aad[5] = (uint8_t)(seq_hi >> 16);
    aad[6] = (uint8_t)(seq_hi >> 8);
    aad[7] = (uint8_t)seq_hi;
    memcpy(aad + 8, esp + 4, 4);
    aad_len = 12;
  } else {
    memcpy(aad + 4, esp + 4, 4);
    aad_len = 8;
  }
  EVP_CIPHER_CTX *c = a->ctx;
  if (EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) != 1) return 0;
  if (EVP_CipherUpdate(c, NULL, &outl, aad, (int)aad_len) != 1) return 0;
  if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, IRO_ESP_ICV_LEN, icv) != 1) return 0;
  /* In place: OpenSSL accepts identical input and output pointers (not partial overlap). */
  if (len > 0 && EVP_CipherUpdate(c, text, &outl, text, (int)len) != 1) return 0;
  /* Neither GCM nor ChaCha20-Poly1305 buffers data: Final only computes or checks the tag. */
  if (EVP_CipherFinal_ex(c, scratch, &outl) != 1) return 0;
  if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, IRO_ESP_ICV_LEN, icv) != 1) return 0;
  return 1;
}

/* aeadSeal(ctxs, ctxIndex, data, esp, ptLen, seqHi, status, count)
 * aeadOpen(ctxs, ctxIndex, data, esp, ptLen, seqHi, status, count, failStatus) -> verified */
static napi_value aead_batch(napi_env env, napi_callback_info info, int enc) {
  napi_value argv[9], result;
  int64_t count, fail_status = 0;
  int32_t *ctx_index;
  uint8_t *data, *status;
  uint32_t *esp, *pt_len, *seq_hi;
  size_t l1, data_len, l3, l4, l5, l6;
  uint32_t n_ctxs;
  bool is_array = false;
  if (!iro_args(env, info, enc ? 8 : 9, argv) || !iro_get_int(env, argv[7], "count", 0, IRO_MAX_BATCH, &count) ||
      (!enc && !iro_get_int(env, argv[8], "failStatus", 1, 255, &fail_status)) ||
      !iro_get_typed(env, argv[1], "ctxIndex", napi_int32_array, (size_t)count, (void **)&ctx_index, &l1) ||
      !iro_get_typed(env, argv[2], "data", napi_uint8_array, 0, (void **)&data, &data_len) ||
      !iro_get_typed(env, argv[3], "esp", napi_uint32_array, (size_t)count, (void **)&esp, &l3) ||
      !iro_get_typed(env, argv[4], "ptLen", napi_uint32_array, (size_t)count, (void **)&pt_len, &l4) ||
      !iro_get_typed(env, argv[5], "seqHi", napi_uint32_array, (size_t)count, (void **)&seq_hi, &l5) ||
      !iro_get_typed(env, argv[6], "status", napi_uint8_array, (size_t)count, (void **)&status, &l6)) {
    return NULL;
  }
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) {
    iro_throw_type(env, "ctxs must be an array of AEAD context handles");
    return NULL;
  }
  IRO_NAPI(env, napi_get_array_length(env, argv[0], &n_ctxs));

  aead_t *stack_cache[CTX_CACHE_STACK];
  aead_t **cache = stack_cache;
  if (n_ctxs > CTX_CACHE_STACK) {
    cache = malloc(sizeof *cache * n_ctxs);
    if (cache == NULL) {
      iro_throw_code(env, "ENOMEM", "out of memory");
      return NULL;
    }
  }
  memset(cache, 0, sizeof *cache * (n_ctxs < CTX_CACHE_STACK ? CTX_CACHE_STACK : n_ctxs));

  /* Validate the whole batch (bounds, contexts) before touching any packet, so a bad argument
   * throws without leaving the batch half processed. */
  const char *bad = NULL;
  for (int64_t i = 0; i < count; i++) {
    int32_t ci = ctx_index[i];
    if (status[i] != 0 || ci < 0) continue;
    if ((uint32_t)ci >= n_ctxs) {
      bad = "ctxIndex is past the end of ctxs";
      break;
    }
    if ((uint64_t)esp[i] + IRO_ESP_HDR_LEN + IRO_ESP_IV_LEN + pt_len[i] + IRO_ESP_ICV_LEN > data_len) {
      bad = "packet extends past the end of data";
      break;
    }
    if (cache[ci] == NULL) {
      napi_value v;
      if (napi_get_element(env, argv[0], (uint32_t)ci, &v) != napi_ok || (cache[ci] = get_aead(env, v)) == NULL) {
        if (cache != stack_cache) free(cache);
        return NULL;
      }
      if (cache[ci]->ctx == NULL) {
        if (cache != stack_cache) free(cache);
        iro_throw_code(env, "ERR_INVALID_STATE", "AEAD context was freed");
        return NULL;
      }
    }
  }
  if (bad != NULL) {
    if (cache != stack_cache) free(cache);
    iro_throw_range(env, bad);
    return NULL;
  }

  uint32_t ok = 0;
  int crypto_failed = 0;
  for (int64_t i = 0; i < count; i++) {
    int32_t ci = ctx_index[i];
    if (status[i] != 0 || ci < 0) continue;
    if (aead_one(cache[ci], data + esp[i], pt_len[i], seq_hi[i], enc)) {
      ok++;
    } else if (enc) {
      crypto_failed = 1; /* sealing does not fail on valid input: an OpenSSL fault */
      break;
    } else {
      status[i] = (uint8_t)fail_status;
    }
  }
  if (cache != stack_cache) free(cache);
  if (crypto_failed) {
    iro_throw_code(env, "ERR_CRYPTO", "OpenSSL failed to seal a packet");
    return NULL;
  }
  if (enc) return NULL;
  IRO_NAPI(env, napi_create_uint32(env, ok, &result));
  return result;
}

static napi_value js_aead_seal(napi_env env, napi_callback_info info) { return aead_batch(env, info, 1); }

static napi_value js_aead_open(napi_env env, napi_callback_info info) { return aead_batch(env, info, 0); }

int iro_init_aead(napi_env env, napi_value exports) {
  return iro_export(env, exports, "aeadCreate", js_aead_create) && iro_export(env, exports, "aeadFree", js_aead_free) &&
         iro_export(env, exports, "aeadSeal", js_aead_seal) && iro_export(env, exports, "aeadOpen", js_aead_open);
}
