/*
 * iro native addon: declarations shared by the C files beside this one.
 *
 * Node-API only (node_api.h, NAPI_VERSION 8), context-aware: every function takes its napi_env
 * and keeps no per-environment state in globals, so the addon loads in the main thread and in
 * worker threads alike. The only process-wide state is the pair of discard counters below
 * (atomics).
 *
 * Error convention (src/native/index.ts): a failure of a whole call throws an Error whose `code`
 * is the errno name ('EPERM', 'ENOENT', ...) and whose `syscall` names the call; a wrong argument
 * throws TypeError / RangeError with Node's codes ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE;
 * per-packet problems are written to the caller's `status` array and never throw.
 */
#ifndef IRO_NATIVE_H
#define IRO_NATIVE_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Packets moved per recvmmsg/sendmmsg call; the message headers live on the stack. */
#define IRO_MMSG_CHUNK 64

/* Bounds of batch arguments (PacketBatch allows 4096 packets; slots are a few KiB). */
#define IRO_MAX_BATCH (1 << 20)
#define IRO_MAX_SLOT (1 << 24)

/* Largest address in the per-packet address arrays (IPv6). */
#define IRO_ADDR_LEN 16

/* Bytes of ESP header (SPI, sequence number) and explicit IV in front of the ciphertext. */
#define IRO_ESP_HDR_LEN 8
#define IRO_ESP_IV_LEN 8
#define IRO_ESP_ICV_LEN 16

/* ---- errors (addon.c) ---- */

/* Throws an Error for `err` (an errno value) with code = errno name and `syscall`. */
void iro_throw_errno(napi_env env, int err, const char *syscall);
/* TypeError with code ERR_INVALID_ARG_TYPE. */
void iro_throw_type(napi_env env, const char *msg);
/* RangeError with code ERR_OUT_OF_RANGE. */
void iro_throw_range(napi_env env, const char *msg);
/* Error with the given code. */
void iro_throw_code(napi_env env, const char *code, const char *msg);
/* After a failed napi_* call: throws a generic error unless one is already pending. */
void iro_throw_napi(napi_env env, const char *what);

/* Evaluates a napi_* call; on failure throws (unless already pending) and returns NULL. */
#define IRO_NAPI(env, call)                                                                        \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      iro_throw_napi((env), #call);                                                                \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

/* ---- argument helpers (addon.c); each throws and returns 0 on a bad argument ---- */

/* Gets exactly `n` arguments (more are ignored, fewer throw). */
int iro_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv);
/* An integer in [min, max]. */
int iro_get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out);
int iro_get_bool(napi_env env, napi_value v, const char *name, int *out);
/* A string copied into buf (NUL-terminated); longer than cap-1 bytes throws RangeError. */
int iro_get_string(napi_env env, napi_value v, const char *name, char *buf, size_t cap);
/* A typed array of `type` with at least `min_len` elements; data and element count returned. */
int iro_get_typed(napi_env env, napi_value v, const char *name, napi_typedarray_type type, size_t min_len,
                  void **data, size_t *len);

/* Small object builders. */
int iro_set_int(napi_env env, napi_value obj, const char *key, int64_t value);
int iro_set_string(napi_env env, napi_value obj, const char *key, const char *value);

/* ---- process-wide counters (addon.c) ---- */

void iro_count_tun_oversize(uint64_t n);
void iro_count_recv_discard(uint64_t n);

/* ---- module parts: each defines its functions on `exports` and returns 0 on failure ---- */

int iro_init_tun(napi_env env, napi_value exports);
int iro_init_sock(napi_env env, napi_value exports);
int iro_init_watch(napi_env env, napi_value exports);
int iro_init_aead(napi_env env, napi_value exports);

/* Defines `fn` as exports[name]. */
int iro_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

#endif /* IRO_NATIVE_H */
