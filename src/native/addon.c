/*
 * iro native addon: module registration, error and argument helpers, process-wide counters and
 * close(2). The typed surface is documented in src/native/index.ts.
 */
#define _GNU_SOURCE /* strerrorname_np (glibc >= 2.32) */
#include "iro.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- errors ---- */

static void throw_with(napi_env env, const char *code, const char *msg, const char *syscall, int err) {
  napi_value jcode, jmsg, error;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg) != napi_ok ||
      napi_create_error(env, jcode, jmsg, &error) != napi_ok) {
    napi_throw_error(env, code, msg);
    return;
  }
  if (syscall != NULL) {
    iro_set_string(env, error, "syscall", syscall);
    /* Node's system errors carry a negative errno (uv convention). */
    iro_set_int(env, error, "errno", -err);
  }
  napi_throw(env, error);
}

void iro_throw_errno(napi_env env, int err, const char *syscall) {
  const char *name = strerrorname_np(err);
  char code[32];
  char msg[256];
  if (name == NULL) {
    snprintf(code, sizeof code, "E%d", err);
    name = code;
  }
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall, strerror(err), name);
  throw_with(env, name, msg, syscall, err);
}

void iro_throw_type(napi_env env, const char *msg) { napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg); }

void iro_throw_range(napi_env env, const char *msg) { napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg); }

void iro_throw_code(napi_env env, const char *code, const char *msg) { throw_with(env, code, msg, NULL, 0); }

void iro_throw_napi(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  char msg[256];
  napi_get_last_error_info(env, &info);
  snprintf(msg, sizeof msg, "Node-API call failed: %s: %s", what,
           info != NULL && info->error_message != NULL ? info->error_message : "unknown error");
  napi_throw_error(env, "ERR_NATIVE", msg);
}

/* ---- arguments ---- */

int iro_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    iro_throw_napi(env, "napi_get_cb_info");
    return 0;
  }
  if (argc < n) {
    char msg[96];
    snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", n, argc);
    iro_throw_type(env, msg);
    return 0;
  }
  return 1;
}

int iro_get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  char msg[160];
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    snprintf(msg, sizeof msg, "%s must be a number", name);
    iro_throw_type(env, msg);
    return 0;
  }
  if (d != d || d < (double)min || d > (double)max || d != (double)(int64_t)d) {
    snprintf(msg, sizeof msg, "%s must be an integer between %lld and %lld", name, (long long)min,
             (long long)max);
    iro_throw_range(env, msg);
    return 0;
  }
  *out = (int64_t)d;
  return 1;
}

int iro_get_bool(napi_env env, napi_value v, const char *name, int *out) {
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a boolean", name);
    iro_throw_type(env, msg);
    return 0;
  }
  *out = b ? 1 : 0;
  return 1;
}

int iro_get_string(napi_env env, napi_value v, const char *name, char *buf, size_t cap) {
  char msg[128];
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    snprintf(msg, sizeof msg, "%s must be a string", name);
    iro_throw_type(env, msg);
    return 0;
  }
  if (len + 1 > cap) {
    snprintf(msg, sizeof msg, "%s must be at most %zu bytes long", name, cap - 1);
    iro_throw_range(env, msg);
    return 0;
  }
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) {
    iro_throw_napi(env, "napi_get_value_string_utf8");
    return 0;
  }
  return 1;
}

static const char *typed_name(napi_typedarray_type t) {
  switch (t) {
  case napi_uint8_array:
    return "a Uint8Array";
  case napi_uint16_array:
    return "a Uint16Array";
  case napi_uint32_array:
    return "a Uint32Array";
  case napi_int32_array:
    return "an Int32Array";
  default:
    return "a typed array";
  }
}

int iro_get_typed(napi_env env, napi_value v, const char *name, napi_typedarray_type type, size_t min_len,
                  void **data, size_t *len) {
  char msg[160];
  bool is_typed = false;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok || t != type) {
    snprintf(msg, sizeof msg, "%s must be %s", name, typed_name(type));
    iro_throw_type(env, msg);
    return 0;
  }
  if (*len < min_len) {
    snprintf(msg, sizeof msg, "%s must have at least %zu elements, got %zu", name, min_len, *len);
    iro_throw_range(env, msg);
    return 0;
  }
  /* A detached buffer reports a NULL pointer: only acceptable when nothing will be touched. */
  if (*data == NULL && min_len > 0) {
    snprintf(msg, sizeof msg, "%s is detached", name);
    iro_throw_type(env, msg);
    return 0;
  }
  return 1;
}

int iro_set_int(napi_env env, napi_value obj, const char *key, int64_t value) {
  napi_value v;
  return napi_create_int64(env, value, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

int iro_set_string(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  return napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok &&
         napi_set_named_property(env, obj, key, v) == napi_ok;
}

int iro_export(napi_env env, napi_value exports, const char *name, napi_callback fn) {
  napi_value f;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, name, f) != napi_ok) {
    iro_throw_napi(env, name);
    return 0;
  }
  return 1;
}

/* ---- counters: process-wide, since the addon was loaded ---- */

static _Atomic uint64_t tun_oversize;
static _Atomic uint64_t recv_discard;

void iro_count_tun_oversize(uint64_t n) { atomic_fetch_add_explicit(&tun_oversize, n, memory_order_relaxed); }

void iro_count_recv_discard(uint64_t n) { atomic_fetch_add_explicit(&recv_discard, n, memory_order_relaxed); }

static napi_value counter_value(napi_env env, _Atomic uint64_t *c) {
  napi_value v;
  IRO_NAPI(env, napi_create_double(env, (double)atomic_load_explicit(c, memory_order_relaxed), &v));
  return v;
}

static napi_value js_tun_oversize(napi_env env, napi_callback_info info) {
  (void)info;
  return counter_value(env, &tun_oversize);
}

static napi_value js_recv_discarded(napi_env env, napi_callback_info info) {
  (void)info;
  return counter_value(env, &recv_discard);
}

/* close(fd). Linux releases the descriptor even when close(2) reports EINTR, so only EBADF and
 * EIO are errors here (close(2), "Dealing with error returns from close()"). */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t fd;
  if (!iro_args(env, info, 1, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  if (close((int)fd) < 0 && errno != EINTR) iro_throw_errno(env, errno, "close");
  return NULL;
}

NAPI_MODULE_INIT() {
  if (!iro_export(env, exports, "tunOversize", js_tun_oversize) ||
      !iro_export(env, exports, "recvDiscarded", js_recv_discarded) ||
      !iro_export(env, exports, "close", js_close) || !iro_init_tun(env, exports) ||
      !iro_init_sock(env, exports) || !iro_init_watch(env, exports) || !iro_init_aead(env, exports) ||
      !iro_init_offload(env, exports)) {
    return NULL;
  }
  return exports;
}
