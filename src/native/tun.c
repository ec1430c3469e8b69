/*
 * TUN queues: open, batch read, batch write.
 *
 * Kernel interface: Documentation/networking/tuntap.rst and drivers/net/tun.c. A queue is an fd
 * of /dev/net/tun attached to an interface with ioctl(TUNSETIFF). IFF_TUN | IFF_NO_PI gives bare
 * IP packets (no 4-byte packet-information prefix); IFF_MULTI_QUEUE lets several fds attach to
 * one interface, the kernel spreading flows across them; IFF_VNET_HDR prefixes every packet with
 * a struct virtio_net_hdr. One read(2) returns one packet, one write(2) injects one packet.
 */
#include "iro.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define TUN_DEVICE "/dev/net/tun"

/* tunOpen(name, multiQueue, vnetHdr) -> { fd, name } */
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  char name[IFNAMSIZ];
  int mq, vnet;
  if (!iro_args(env, info, 3, argv) || !iro_get_string(env, argv[0], "name", name, sizeof name) ||
      !iro_get_bool(env, argv[1], "multiQueue", &mq) || !iro_get_bool(env, argv[2], "vnetHdr", &vnet)) {
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
  IRO_NAPI(env, napi_create_object(env, &result));
  if (!iro_set_int(env, result, "fd", fd) || !iro_set_string(env, result, "name", ifr.ifr_name)) {
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

int iro_init_tun(napi_env env, napi_value exports) {
  return iro_export(env, exports, "tunOpen", js_tun_open) && iro_export(env, exports, "tunRead", js_tun_read) &&
         iro_export(env, exports, "tunWrite", js_tun_write);
}
