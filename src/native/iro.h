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

/* Offload counters (offloadCounters() in index.ts names them; keep the two lists in step). */
typedef enum {
  IRO_OFL_TUN_GSO_READS,      /* super-packets read from a TUN */
  IRO_OFL_TUN_GSO_SEGMENTS,   /* packets cut from them */
  IRO_OFL_TUN_CSUM_COMPLETED, /* single packets whose partial checksum was finished */
  IRO_OFL_TUN_READ_DISCARDS,  /* packets read with a virtio header that could not be used */
  IRO_OFL_TUN_GSO_WRITES,     /* coalesced GSO writes to a TUN */
  IRO_OFL_TUN_GSO_WRITE_SEGS, /* packets they carried */
  IRO_OFL_TUN_GSO_REFUSED,    /* coalesced writes the kernel refused (packets then written one by one) */
  IRO_OFL_UDP_GSO_SENDS,      /* UDP_SEGMENT messages sent */
  IRO_OFL_UDP_GSO_SEGMENTS,   /* packets they carried */
  IRO_OFL_UDP_GSO_REFUSED,    /* UDP_SEGMENT messages the kernel refused (packets then sent one by one) */
  IRO_OFL_UDP_GRO_READS,      /* coalesced datagrams received (UDP_GRO, more than one segment) */
  IRO_OFL_UDP_GRO_SEGMENTS,   /* packets cut from them */
  IRO_OFL_COUNT
} iro_offload_counter;

void iro_count_offload(iro_offload_counter c, uint64_t n);

/* ---- module parts: each defines its functions on `exports` and returns 0 on failure ---- */

int iro_init_tun(napi_env env, napi_value exports);
int iro_init_sock(napi_env env, napi_value exports);
int iro_init_watch(napi_env env, napi_value exports);
int iro_init_aead(napi_env env, napi_value exports);
int iro_init_offload(napi_env env, napi_value exports);

/* ---- offloads (offload.c): checksums, TUN super-packet segmentation, TCP coalescing ---- */

/* struct virtio_net_hdr (include/uapi/linux/virtio_net.h), the prefix of every packet on a TUN
 * opened with IFF_VNET_HDR. Its 16-bit fields are in the host's byte order: legacy virtio, as
 * long as nobody sets TUNSETVNETLE / TUNSETVNETBE (tun_is_little_endian). */
#define IRO_VNET_HDR_LEN 10
#define IRO_VNET_F_NEEDS_CSUM 1 /* VIRTIO_NET_HDR_F_NEEDS_CSUM: csum_start/csum_offset say what to finish */
#define IRO_VNET_GSO_NONE 0     /* VIRTIO_NET_HDR_GSO_NONE */
/* Largest packet a TUN hands over: gso_max_size is capped by the device's tso_max_size, which
 * tun leaves at GSO_LEGACY_MAX_SIZE (64 KiB, include/linux/netdevice.h). */
#define IRO_GSO_MAX_PACKET 65536
/* Segments one coalesced write may carry (the UDP_MAX_SEGMENTS of kernels before 6.10). */
#define IRO_COALESCE_MAX_SEGS 64
/* Packets planned together for coalescing (the plan lives on the stack). */
#define IRO_COALESCE_CHUNK 256

typedef struct {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
} iro_vnet;

void iro_vnet_decode(const uint8_t *b, iro_vnet *h);
void iro_vnet_encode(const iro_vnet *h, uint8_t *b);

/* Slots of a PacketBatch being filled: packet n goes to data + n * slot + headroom and may use
 * `cap` bytes. */
typedef struct {
  uint8_t *data;
  uint32_t *offset, *length;
  size_t slot, headroom, cap;
  uint32_t max;
} iro_slots;

/* A super-packet checked by iro_gso_parse. */
typedef struct {
  uint32_t iphl; /* bytes of IP header (with IPv6 extension headers): the transport header's offset */
  uint32_t hlen; /* bytes of IP + transport header, repeated in every segment */
  uint32_t mss;  /* payload bytes per segment (gso_size); the last may be shorter */
  uint32_t segs; /* segments in the packet */
  uint8_t v6;
  uint8_t tcp; /* TCP, else UDP */
} iro_gso;

/* Checks the `len`-byte packet `pkt` described by the GSO header `h` (gso_type != NONE).
 * Returns 1 and fills `g`, or 0 when the packet cannot be segmented (unknown type, headers
 * that do not match the virtio header, no payload). */
int iro_gso_parse(const iro_vnet *h, const uint8_t *pkt, size_t len, iro_gso *g);
/* Writes segments first, first+1, ... of `pkt` into slots from *n on, while slots remain
 * (s->max); each segment needs g->hlen + g->mss <= s->cap. Advances *n; returns the number
 * of segments written. */
uint32_t iro_gso_split(const iro_gso *g, const uint8_t *pkt, size_t len, uint32_t first, iro_slots *s, uint32_t *n);
/* Finishes the checksum of a packet the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM, no
 * GSO). Returns 0 when start/offset do not fit the packet. */
int iro_csum_complete(uint8_t *pkt, size_t len, size_t start, size_t offset);

/* One write to a TUN: a single packet, or TCP segments coalesced into one GSO packet. */
typedef struct {
  uint32_t head;     /* batch index of the first packet */
  uint32_t tail;     /* batch index of the last packet */
  uint32_t segs;     /* packets in it */
  uint32_t bytes;    /* TCP payload bytes of all of them */
  uint32_t next_seq; /* sequence number the next segment must carry */
  uint16_t mss;      /* payload bytes of the head: the GSO segment size */
  uint8_t iphl, thl; /* IP and TCP header bytes of the head */
  uint8_t v6;
  uint8_t open;     /* may still take segments */
  uint8_t verified; /* the head's checksum verified */
  uint8_t psh;      /* the tail carries PSH */
} iro_unit;

/* Plans the writes of the packets [start, end) of a batch whose status is 0 (each inside
 * `data`, checked by the caller): `units` (room for end - start) in the order of their first
 * packet, `link[i - start]` = next packet of i's unit or UINT32_MAX. Returns the unit count. */
uint32_t iro_coalesce_plan(const uint8_t *data, const uint32_t *offset, const uint32_t *length,
                           const uint8_t *status, uint32_t start, uint32_t end, iro_unit *units, uint32_t *link);
/* For a unit of 2 or more segments: the virtio header (`vnet`, IRO_VNET_HDR_LEN bytes) and the
 * headers of the coalesced packet (`hdr`, u->iphl + u->thl bytes) made from the head packet.
 * The payloads of the segments follow `hdr` on the wire, in link order. */
void iro_coalesce_headers(const iro_unit *u, const uint8_t *head, uint8_t *vnet, uint8_t *hdr);

/* Defines `fn` as exports[name]. */
int iro_export(napi_env env, napi_value exports, const char *name, napi_callback fn);

#endif /* IRO_NATIVE_H */
