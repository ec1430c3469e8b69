/*
 * TUN queues: open, batch read, batch write, plain or with offloads.
 *
 * Kernel interface: Documentation/networking/tuntap.rst and drivers/net/tun.c. A queue is an fd
 * of /dev/net/tun attached to an interface with ioctl(TUNSETIFF). IFF_TUN | IFF_NO_PI gives bare
 * IP packets (no 4-byte packet-information prefix); IFF_MULTI_QUEUE lets several fds attach to
 * one interface, the kernel spreading flows across them; IFF_VNET_HDR prefixes every packet with
 * a struct virtio_net_hdr. One read(2) returns one packet, one write(2) injects one packet.
 *
 * Offloads (offload.c): with IFF_VNET_HDR and TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4 |
 * TUN_F_TSO6, and TUN_F_USO4 | TUN_F_USO6 where the kernel has them, Linux >= 6.2) the stack
 * hands over TCP (and UDP GSO) super-packets of up to 64 KiB, traversing itself once per super-
 * packet instead of once per segment; tunReadVnet cuts them into MTU-sized packets in
 * consecutive batch slots. tunWriteVnet coalesces TCP segments of a flow into one GSO write, so
 * the receiving stack also runs once per group. This is wireguard-go's approach
 * (tun/offload_linux.go).
 */
#include "iro.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

/* include/uapi/linux/if_tun.h since Linux 6.2; older headers lack them, older kernels refuse
 * them with EINVAL. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

#define TUN_DEVICE "/dev/net/tun"

/* Offload sets to ask for, best first (TUNSETOFFLOAD refuses bits the kernel does not know). */
static const unsigned OFFLOAD_CHOICES[] = {
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
};

/* tunOpen(name, multiQueue, offload) -> { fd, name, vnetHdr, offloads } */
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  char name[IFNAMSIZ];
  int mq, vnet;
  if (!iro_args(env, info, 3, argv) || !iro_get_string(env, argv[0], "name", name, sizeof name) ||
      !iro_get_bool(env, argv[1], "multiQueue", &mq) || !iro_get_bool(env, argv[2], "offload", &vnet)) {
    return NULL;
  }
  int fd = open(TUN_DEVICE, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    iro_throw_errno(env, errno, "open(" TUN_DEVICE ")");
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (mq ? IFF_MULTI_QUEUE : 0) | (vnet ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, name, strlen(name) + 1);
  /* Creating an interface, or attaching to one, needs CAP_NET_ADMIN (EPERM otherwise); a second
   * attach to a single-queue interface, or mixing queue modes, gives EBUSY / EINVAL. */
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    iro_throw_errno(env, err, "ioctl(TUNSETIFF)");
    return NULL;
  }
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  /* Offloads only change what reads may return; writes may carry GSO packets regardless. A
   * kernel that refuses every set still gives plain packets behind a virtio header. */
  unsigned offloads = 0;
  for (size_t k = 0; vnet && k < sizeof OFFLOAD_CHOICES / sizeof OFFLOAD_CHOICES[0]; k++) {
    if (ioctl(fd, TUNSETOFFLOAD, OFFLOAD_CHOICES[k]) == 0) {
      offloads = OFFLOAD_CHOICES[k];
      break;
    }
  }
  napi_value jvnet;
  IRO_NAPI(env, napi_create_object(env, &result));
  if (!iro_set_int(env, result, "fd", fd) || !iro_set_string(env, result, "name", ifr.ifr_name) ||
      !iro_set_int(env, result, "offloads", offloads) || napi_get_boolean(env, vnet, &jvnet) != napi_ok ||
      napi_set_named_property(env, result, "vnetHdr", jvnet) != napi_ok) {
    close(fd);
    iro_throw_napi(env, "tunOpen result");
    return NULL;
  }
  return result;
}

/* tunRead(fd, data, offset, length, slotSize, headroom, tailroom, max) -> count */
static napi_value js_tun_read(napi_env env, napi_callback_info info) {
  napi_value argv[8], result;
  int64_t fd, slot, headroom, tailroom, max;
  uint8_t *data;
  uint32_t *offset, *length;
  size_t data_len, n_off, n_len;
  if (!iro_args(env, info, 8, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !iro_get_int(env, argv[4], "slotSize", 1, IRO_MAX_SLOT, &slot) ||
      !iro_get_int(env, argv[5], "headroom", 0, slot - 1, &headroom) ||
      !iro_get_int(env, argv[6], "tailroom", 0, slot - headroom - 1, &tailroom) ||
      !iro_get_int(env, argv[7], "max", 0, IRO_MAX_BATCH, &max) ||
      !iro_get_typed(env, argv[1], "data", napi_uint8_array, (size_t)(max * slot), (void **)&data, &data_len) ||
      !iro_get_typed(env, argv[2], "offset", napi_uint32_array, (size_t)max, (void **)&offset, &n_off) ||
      !iro_get_typed(env, argv[3], "length", napi_uint32_array, (size_t)max, (void **)&length, &n_len)) {
    return NULL;
  }
  const size_t cap = (size_t)(slot - headroom - tailroom);
  /* A packet longer than `cap` spills into this byte, so it is recognised whatever the driver
   * reports for a short buffer (tun_put_user returns the full length, other drivers truncate). */
  uint8_t spill;
  uint32_t n = 0;
  uint64_t oversize = 0;
  /* Every read counts against `max`, discarded ones included, so a flood of oversize packets
   * cannot keep this loop running; the level-triggered watch brings the caller back. */
  for (int64_t attempt = 0; attempt < max;) {
    size_t start = (size_t)n * (size_t)slot + (size_t)headroom;
    struct iovec iov[2] = {{data + start, cap}, {&spill, 1}};
    ssize_t r = readv((int)fd, iov, 2);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break; /* deliver what was read; the error recurs on the next call */
      iro_count_tun_oversize(oversize);
      iro_throw_errno(env, errno, "read");
      return NULL;
    }
    attempt++;
    if (r == 0) break;
    if ((size_t)r > cap) {
      oversize++;
      continue;
    }
    offset[n] = (uint32_t)start;
    length[n] = (uint32_t)r;
    n++;
  }
  if (oversize > 0) iro_count_tun_oversize(oversize);
  IRO_NAPI(env, napi_create_uint32(env, n, &result));
  return result;
}

/* tunWrite(fd, data, offset, length, status, count) -> packets written */
static napi_value js_tun_write(napi_env env, napi_callback_info info) {
  napi_value argv[6], result;
  int64_t fd, count;
  uint8_t *data, *status;
  uint32_t *offset, *length;
  size_t data_len, n_off, n_len, n_st;
  if (!iro_args(env, info, 6, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !iro_get_int(env, argv[5], "count", 0, IRO_MAX_BATCH, &count) ||
      !iro_get_typed(env, argv[1], "data", napi_uint8_array, 0, (void **)&data, &data_len) ||
      !iro_get_typed(env, argv[2], "offset", napi_uint32_array, (size_t)count, (void **)&offset, &n_off) ||
      !iro_get_typed(env, argv[3], "length", napi_uint32_array, (size_t)count, (void **)&length, &n_len) ||
      !iro_get_typed(env, argv[4], "status", napi_uint8_array, (size_t)count, (void **)&status, &n_st)) {
    return NULL;
  }
  for (int64_t i = 0; i < count; i++) {
    if (status[i] == 0 && (uint64_t)offset[i] + length[i] > data_len) {
      iro_throw_range(env, "packet extends past the end of data");
      return NULL;
    }
  }
  uint32_t written = 0;
  for (int64_t i = 0; i < count; i++) {
    if (status[i] != 0) continue;
    ssize_t r;
    do {
      r = write((int)fd, data + offset[i], length[i]);
    } while (r < 0 && errno == EINTR);
    if (r >= 0) {
      written++;
      continue;
    }
    /* A TUN write does not block in practice (its socket send buffer is INT_MAX); EAGAIN stops
     * the batch like a full queue would. A bad descriptor is the caller's bug: throw. Anything
     * else (EINVAL for a packet that is not IP, EIO while the link is down) concerns only this
     * packet, which is skipped. */
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EBADF || errno == EBADFD) {
      if (written > 0) break;
      iro_throw_errno(env, errno, "write");
      return NULL;
    }
  }
  IRO_NAPI(env, napi_create_uint32(env, written, &result));
  return result;
}

/* ---- with a virtio header (IFF_VNET_HDR) ---- */

/* The receive state a TunLink keeps between reads (a Uint8Array of TUN_RX_STATE_BYTES): a
 * super-packet whose segments did not all fit the batch waits in `buf` for the next call. */
typedef struct {
  uint32_t pending; /* first, host order: nonzero while segments wait (read by index.ts) */
  uint32_t len;     /* bytes of the packet in buf */
  uint32_t next;    /* next segment to deliver */
  uint32_t reserved;
  iro_gso gso;
} tun_rx_head;

#define TUN_RX_HEAD_BYTES 64
#define TUN_RX_STATE_BYTES (TUN_RX_HEAD_BYTES + IRO_GSO_MAX_PACKET)
_Static_assert(sizeof(tun_rx_head) <= TUN_RX_HEAD_BYTES, "tun_rx_head outgrew its room");

/* tunReadVnet(fd, data, offset, length, slotSize, headroom, tailroom, max, state) -> count */
static napi_value js_tun_read_vnet(napi_env env, napi_callback_info info) {
  napi_value argv[9], result;
  int64_t fd, slot, headroom, tailroom, max;
  uint8_t *data, *state;
  uint32_t *offset, *length;
  size_t data_len, n_off, n_len, n_state;
  if (!iro_args(env, info, 9, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !iro_get_int(env, argv[4], "slotSize", 1, IRO_MAX_SLOT, &slot) ||
      !iro_get_int(env, argv[5], "headroom", 0, slot - 1, &headroom) ||
      !iro_get_int(env, argv[6], "tailroom", 0, slot - headroom - 1, &tailroom) ||
      !iro_get_int(env, argv[7], "max", 0, IRO_MAX_BATCH, &max) ||
      !iro_get_typed(env, argv[1], "data", napi_uint8_array, (size_t)(max * slot), (void **)&data, &data_len) ||
      !iro_get_typed(env, argv[2], "offset", napi_uint32_array, (size_t)max, (void **)&offset, &n_off) ||
      !iro_get_typed(env, argv[3], "length", napi_uint32_array, (size_t)max, (void **)&length, &n_len) ||
      !iro_get_typed(env, argv[8], "state", napi_uint8_array, TUN_RX_STATE_BYTES, (void **)&state, &n_state)) {
    return NULL;
  }
  if ((uintptr_t)state % 8 != 0) {
    iro_throw_type(env, "state must start on an 8-byte boundary");
    return NULL;
  }
  tun_rx_head *st = (tun_rx_head *)state;
  uint8_t *buf = state + TUN_RX_HEAD_BYTES;
  iro_slots s = {data, offset, length, (size_t)slot, (size_t)headroom, (size_t)(slot - headroom - tailroom), (uint32_t)max};
  uint32_t n = 0;
  uint64_t oversize = 0, discards = 0, segments = 0, supers = 0, completed = 0;
  /* As in tunRead, every read counts against `max`. */
  for (int64_t attempt = 0;;) {
    if (st->pending && (st->gso.hlen + st->gso.mss > s.cap || st->len > IRO_GSO_MAX_PACKET ||
                        st->gso.hlen >= st->len || st->gso.mss == 0 || st->next >= st->gso.segs)) {
      /* Slots smaller than those of the read that left the packet waiting (or a state the
       * caller overwrote): drop what waits rather than overflow a slot. */
      oversize++;
      st->pending = 0;
    }
    if (st->pending) {
      const uint32_t k = iro_gso_split(&st->gso, buf, st->len, st->next, &s, &n);
      st->next += k;
      segments += k;
      if (st->next < st->gso.segs) break; /* the batch is full; the rest waits */
      st->pending = 0;
    }
    if (n >= s.max || attempt >= max) break;
    uint8_t vh[IRO_VNET_HDR_LEN];
    uint8_t spill;
    struct iovec iov[3] = {{vh, sizeof vh}, {buf, IRO_GSO_MAX_PACKET}, {&spill, 1}};
    ssize_t r = readv((int)fd, iov, 3);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break;
      iro_throw_errno(env, errno, "read");
      break;
    }
    attempt++;
    if (r == 0) break;
    if ((size_t)r < sizeof vh) {
      discards++;
      continue;
    }
    const size_t len = (size_t)r - sizeof vh;
    if (len > IRO_GSO_MAX_PACKET) {
      oversize++;
      continue;
    }
    iro_vnet h;
    iro_vnet_decode(vh, &h);
    if (h.gso_type != IRO_VNET_GSO_NONE) {
      if (!iro_gso_parse(&h, buf, len, &st->gso)) {
        discards++;
      } else if (st->gso.hlen + st->gso.mss > s.cap) {
        oversize++;
      } else {
        st->len = (uint32_t)len;
        st->next = 0;
        st->pending = 1;
        supers++;
      }
      continue;
    }
    if (len > s.cap) {
      oversize++;
      continue;
    }
    if (h.flags & IRO_VNET_F_NEEDS_CSUM) {
      if (!iro_csum_complete(buf, len, h.csum_start, h.csum_offset)) {
        discards++;
        continue;
      }
      completed++;
    }
    uint8_t *dst = data + (size_t)n * s.slot + s.headroom;
    memcpy(dst, buf, len);
    offset[n] = (uint32_t)(dst - data);
    length[n] = (uint32_t)len;
    n++;
  }
  if (oversize > 0) iro_count_tun_oversize(oversize);
  if (discards > 0) iro_count_offload(IRO_OFL_TUN_READ_DISCARDS, discards);
  if (supers > 0) iro_count_offload(IRO_OFL_TUN_GSO_READS, supers);
  if (segments > 0) iro_count_offload(IRO_OFL_TUN_GSO_SEGMENTS, segments);
  if (completed > 0) iro_count_offload(IRO_OFL_TUN_CSUM_COMPLETED, completed);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return NULL;
  IRO_NAPI(env, napi_create_uint32(env, n, &result));
  return result;
}

static const uint8_t ZERO_VNET[IRO_VNET_HDR_LEN];

/* One packet behind a zero virtio header (no GSO, checksum complete). Returns 0 or an errno. */
static int write_single(int fd, const uint8_t *pkt, size_t len) {
  struct iovec iov[2] = {{(void *)ZERO_VNET, sizeof ZERO_VNET}, {(void *)pkt, len}};
  ssize_t r;
  do {
    r = writev(fd, iov, 2);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

/* The segments of unit `u` as one GSO packet: virtio header, the head's headers rewritten for
 * the whole, then every segment's payload straight from its slot. Returns 0 or an errno. */
static int write_coalesced(int fd, const uint8_t *data, const uint32_t *offset, const uint32_t *length,
                           const iro_unit *u, const uint32_t *link, uint32_t start) {
  uint8_t vnet[IRO_VNET_HDR_LEN];
  uint8_t hdr[128];
  const size_t hlen = (size_t)u->iphl + u->thl;
  iro_coalesce_headers(u, data + offset[u->head], vnet, hdr);
  struct iovec iov[2 + IRO_COALESCE_MAX_SEGS];
  iov[0] = (struct iovec){vnet, sizeof vnet};
  iov[1] = (struct iovec){hdr, hlen};
  int k = 2;
  for (uint32_t i = u->head; i != UINT32_MAX; i = link[i - start]) {
    iov[k++] = (struct iovec){(void *)(data + offset[i] + hlen), length[i] - hlen};
  }
  ssize_t r;
  do {
    r = writev(fd, iov, k);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

typedef enum { WR_DONE, WR_SKIP, WR_STOP, WR_THROW } write_outcome;

/* What an errno from a TUN write means for the batch (as in tunWrite: EAGAIN stops it, a bad
 * descriptor throws, anything else concerns only this packet). */
static write_outcome classify_write_error(int err) {
  if (err == 0) return WR_DONE;
  if (err == EAGAIN || err == EWOULDBLOCK) return WR_STOP;
  if (err == EBADF || err == EBADFD) return WR_THROW;
  return WR_SKIP;
}

/* tunWriteVnet(fd, data, offset, length, status, count, txState) -> packets written
 * txState[0]: coalesce (nonzero) or not; cleared here when the kernel refuses a GSO write. */
static napi_value js_tun_write_vnet(napi_env env, napi_callback_info info) {
  napi_value argv[7], result;
  int64_t fd, count;
  uint8_t *data, *status;
  uint32_t *offset, *length, *tx;
  size_t data_len, n_off, n_len, n_st, n_tx;
  if (!iro_args(env, info, 7, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !iro_get_int(env, argv[5], "count", 0, IRO_MAX_BATCH, &count) ||
      !iro_get_typed(env, argv[1], "data", napi_uint8_array, 0, (void **)&data, &data_len) ||
      !iro_get_typed(env, argv[2], "offset", napi_uint32_array, (size_t)count, (void **)&offset, &n_off) ||
      !iro_get_typed(env, argv[3], "length", napi_uint32_array, (size_t)count, (void **)&length, &n_len) ||
      !iro_get_typed(env, argv[4], "status", napi_uint8_array, (size_t)count, (void **)&status, &n_st) ||
      !iro_get_typed(env, argv[6], "txState", napi_uint32_array, 1, (void **)&tx, &n_tx)) {
    return NULL;
  }
  for (int64_t i = 0; i < count; i++) {
    if (status[i] == 0 && (uint64_t)offset[i] + length[i] > data_len) {
      iro_throw_range(env, "packet extends past the end of data");
      return NULL;
    }
  }
  iro_unit units[IRO_COALESCE_CHUNK];
  uint32_t link[IRO_COALESCE_CHUNK];
  uint32_t written = 0;
  uint64_t gso_writes = 0, gso_segs = 0, refused = 0;
  write_outcome stop = WR_DONE;
  int stop_errno = 0;
  for (uint32_t start = 0; start < (uint32_t)count && stop == WR_DONE; start += IRO_COALESCE_CHUNK) {
    const uint32_t end = (uint32_t)count - start < IRO_COALESCE_CHUNK ? (uint32_t)count : start + IRO_COALESCE_CHUNK;
    uint32_t nu = 0;
    if (tx[0] != 0) {
      nu = iro_coalesce_plan(data, offset, length, status, start, end, units, link);
    } else {
      for (uint32_t i = start; i < end; i++) {
        if (status[i] != 0) continue;
        units[nu++] = (iro_unit){.head = i, .tail = i, .segs = 1};
        link[i - start] = UINT32_MAX;
      }
    }
    for (uint32_t k = 0; k < nu && stop == WR_DONE; k++) {
      const iro_unit *u = &units[k];
      if (u->segs > 1) {
        const int err = write_coalesced((int)fd, data, offset, length, u, link, start);
        const write_outcome o = classify_write_error(err);
        if (o == WR_DONE) {
          written += u->segs;
          gso_writes++;
          gso_segs += u->segs;
          continue;
        }
        if (o != WR_SKIP) {
          stop = o;
          stop_errno = err;
          break;
        }
        /* virtio_net_hdr_to_skb refused it (EINVAL): write the segments one by one, and stop
         * coalescing on this queue. */
        refused++;
        if (err == EINVAL) tx[0] = 0;
      }
      for (uint32_t i = u->head; i != UINT32_MAX && stop == WR_DONE; i = link[i - start]) {
        const int err = write_single((int)fd, data + offset[i], length[i]);
        const write_outcome o = classify_write_error(err);
        if (o == WR_DONE) {
          written++;
        } else if (o != WR_SKIP) {
          stop = o;
          stop_errno = err;
        }
      }
    }
  }
  if (gso_writes > 0) {
    iro_count_offload(IRO_OFL_TUN_GSO_WRITES, gso_writes);
    iro_count_offload(IRO_OFL_TUN_GSO_WRITE_SEGS, gso_segs);
  }
  if (refused > 0) iro_count_offload(IRO_OFL_TUN_GSO_REFUSED, refused);
  /* A bad descriptor is the caller's bug: throw, unless packets already went out. */
  if (stop == WR_THROW && written == 0) {
    iro_throw_errno(env, stop_errno, "write");
    return NULL;
  }
  IRO_NAPI(env, napi_create_uint32(env, written, &result));
  return result;
}

int iro_init_tun(napi_env env, napi_value exports) {
  napi_value bytes;
  return iro_export(env, exports, "tunOpen", js_tun_open) && iro_export(env, exports, "tunRead", js_tun_read) &&
         iro_export(env, exports, "tunWrite", js_tun_write) &&
         iro_export(env, exports, "tunReadVnet", js_tun_read_vnet) &&
         iro_export(env, exports, "tunWriteVnet", js_tun_write_vnet) &&
         napi_create_uint32(env, TUN_RX_STATE_BYTES, &bytes) == napi_ok &&
         napi_set_named_property(env, exports, "tunRxStateBytes", bytes) == napi_ok;
}
