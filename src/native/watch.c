/*
 * Event-loop integration: a level-triggered uv_poll_t per watched descriptor, calling a JS
 * callback with the ready events (WATCH_READABLE = UV_READABLE = 1, WATCH_WRITABLE =
 * UV_WRITABLE = 2).
 *
 * Lifetime of a watch (libuv "uv_poll_t", "uv_close"; Node-API "napi_add_async_cleanup_hook"):
 * - while open, the watch holds a strong reference to its own JS handle, so dropping the handle
 *   never silently stops a watch: only unwatch() does;
 * - unwatch() stops polling at once (the fd may be closed right after it returns) and closes the
 *   uv handle; the close callback releases the references, and the handle's finalizer frees the
 *   memory once the JS object is collected;
 * - when the environment goes away with watches still open (a worker exits, the process ends)
 *   an async cleanup hook closes them; the hook keeps the napi_env alive until the close
 *   callbacks have run, so the references can still be released there.
 * libuv allows one uv_poll_t per fd and loop: a second watch of the same fd throws EEXIST.
 */
#include "iro.h"

#include <stdlib.h>
#include <uv.h>

#define WATCH_EVENTS (UV_READABLE | UV_WRITABLE)

static const napi_type_tag WATCH_TAG = {0x69726f5f77617463ULL, 0x685f68616e646c65ULL};

typedef struct {
  uv_poll_t poll; /* first: the uv handle pointer is the struct pointer */
  napi_env env;
  napi_ref cb;
  napi_ref self;
  napi_async_context actx;
  napi_async_cleanup_hook_handle hook;
  int events;
  int closing;   /* unwatch() or the cleanup hook ran */
  int closed;    /* the uv close callback ran */
  int finalized; /* the JS handle's finalizer ran */
} watch_t;

static void on_poll(uv_poll_t *h, int status, int events) {
  watch_t *w = (watch_t *)h;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value cb, recv, arg;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  /* On a polling error report the awaited events: the next read or write surfaces the error. */
  int ev = status < 0 ? w->events : (events & WATCH_EVENTS);
  /* napi_make_callback needs an object receiver: the global object, as for a plain call. */
  if (napi_get_reference_value(env, w->cb, &cb) == napi_ok && napi_get_global(env, &recv) == napi_ok &&
      napi_create_int32(env, ev, &arg) == napi_ok) {
    /* napi_make_callback, not napi_call_function: it runs the microtask and nextTick queues
     * afterwards, as any callback from the event loop must. */
    if (napi_make_callback(env, w->actx, recv, cb, 1, &arg, NULL) == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_close(uv_handle_t *h) {
  watch_t *w = (watch_t *)h;
  napi_env env = w->env;
  napi_ref cb = w->cb, self = w->self;
  napi_async_context actx = w->actx;
  napi_async_cleanup_hook_handle hook = w->hook;
  int orphan = w->finalized;
  w->closed = 1;
  napi_delete_reference(env, cb);
  napi_async_destroy(env, actx);
  /* From here on `w` may be freed (by us, or by the finalizer that deleting `self` allows). */
  if (orphan) free(w);
  napi_delete_reference(env, self);
  napi_remove_async_cleanup_hook(hook);
}

/* Close callback when the JS handle could not be made: nothing else refers to `w`. */
static void free_handle(uv_handle_t *h) { free(h); }

/* Close callback when setup failed after the JS handle existed: its finalizer may come first. */
static void on_close_unused(uv_handle_t *h) {
  watch_t *w = (watch_t *)h;
  w->closed = 1;
  if (w->finalized) free(w);
}

static void watch_close(watch_t *w) {
  if (w->closing) return;
  w->closing = 1;
  /* uv_poll_stop removes the fd from epoll now; the handle itself closes asynchronously. */
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_close);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;
  watch_close((watch_t *)arg);
}

static void watch_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watch_t *w = (watch_t *)data;
  if (w->closed) free(w);
  else w->finalized = 1;
}

static watch_t *get_watch(napi_env env, napi_value v) {
  bool tagged = false;
  void *p = NULL;
  if (napi_check_object_type_tag(env, v, &WATCH_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &p) != napi_ok) {
    iro_throw_type(env, "watch handle expected");
    return NULL;
  }
  return (watch_t *)p;
}

/* watch(fd, events, cb) -> handle */
static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[3], handle, name;
  int64_t fd, events;
  napi_valuetype t;
  if (!iro_args(env, info, 3, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !iro_get_int(env, argv[1], "events", 0, WATCH_EVENTS, &events)) {
    return NULL;
  }
  if (napi_typeof(env, argv[2], &t) != napi_ok || t != napi_function) {
    iro_throw_type(env, "cb must be a function");
    return NULL;
  }
  struct uv_loop_s *loop;
  IRO_NAPI(env, napi_get_uv_event_loop(env, &loop));
  watch_t *w = calloc(1, sizeof *w);
  if (w == NULL) {
    iro_throw_code(env, "ENOMEM", "out of memory");
    return NULL;
  }
  int rc = uv_poll_init(loop, &w->poll, (int)fd);
  if (rc < 0) {
    free(w);
    iro_throw_errno(env, -rc, "uv_poll_init");
    return NULL;
  }
  w->env = env;
  w->events = (int)events;
  /* From here the uv handle is initialised and must be closed, never simply freed. */
  if (napi_create_external(env, w, watch_finalize, NULL, &handle) != napi_ok) {
    iro_throw_napi(env, "napi_create_external");
    uv_close((uv_handle_t *)&w->poll, free_handle);
    return NULL;
  }
  if (napi_type_tag_object(env, handle, &WATCH_TAG) != napi_ok ||
      napi_create_string_utf8(env, "iro:watch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &w->actx) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &w->cb) != napi_ok ||
      napi_create_reference(env, handle, 1, &w->self) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, w, &w->hook) != napi_ok) {
    iro_throw_napi(env, "watch setup");
    /* Undo in reverse; whichever of close callback and finalizer comes last frees `w`. */
    if (w->hook != NULL) napi_remove_async_cleanup_hook(w->hook);
    if (w->self != NULL) napi_delete_reference(env, w->self);
    if (w->cb != NULL) napi_delete_reference(env, w->cb);
    if (w->actx != NULL) napi_async_destroy(env, w->actx);
    w->closing = 1;
    uv_close((uv_handle_t *)&w->poll, on_close_unused);
    return NULL;
  }
  if (events != 0 && (rc = uv_poll_start(&w->poll, (int)events, on_poll)) < 0) {
    watch_close(w);
    iro_throw_errno(env, -rc, "uv_poll_start");
    return NULL;
  }
  return handle;
}

/* rewatch(handle, events): 0 pauses the watch, anything else restarts it with those events. */
static napi_value js_rewatch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t events;
  watch_t *w;
  if (!iro_args(env, info, 2, argv) || (w = get_watch(env, argv[0])) == NULL ||
      !iro_get_int(env, argv[1], "events", 0, WATCH_EVENTS, &events)) {
    return NULL;
  }
  if (w->closing) {
    iro_throw_code(env, "ERR_INVALID_STATE", "rewatch of a watch that was unwatched");
    return NULL;
  }
  w->events = (int)events;
  int rc = events == 0 ? uv_poll_stop(&w->poll) : uv_poll_start(&w->poll, (int)events, on_poll);
  if (rc < 0) iro_throw_errno(env, -rc, events == 0 ? "uv_poll_stop" : "uv_poll_start");
  return NULL;
}

/* unwatch(handle): idempotent. */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  watch_t *w;
  if (!iro_args(env, info, 1, argv) || (w = get_watch(env, argv[0])) == NULL) return NULL;
  watch_close(w);
  return NULL;
}

int iro_init_watch(napi_env env, napi_value exports) {
  return iro_export(env, exports, "watch", js_watch) && iro_export(env, exports, "rewatch", js_rewatch) &&
         iro_export(env, exports, "unwatch", js_unwatch);
}
