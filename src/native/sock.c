/*
 * Wire sockets: UDP for ESP-in-UDP (RFC 3948) and raw IP protocol 50 for bare ESP (RFC 4303),
 * both moved in batches with recvmmsg(2) / sendmmsg(2).
 *
 * Per-packet addresses: the peer is msg_name; the local address of a received datagram comes
 * from an IP_PKTINFO / IPV6_PKTINFO control message (ip(7), ipv6(7)), and a packet is sent from
 * a chosen local address by attaching the same control message (ipi_spec_dst / ipi6_addr), so
 * one socket bound to the wildcard serves every local address (PROTOCOL.md F.18, F.20).
 *
 * Raw sockets: an IPv4 raw socket delivers the IP header with the packet, an IPv6 one does not
 * (raw(7), ipv6(7); PROTOCOL.md F.21); on send the kernel builds the IP header in both cases.
 *
 * Batches follow PacketBatch (src/packet/batch.ts): received packet i is placed at
 * `i * slotSize + headroom`, whatever was discarded before it.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg, struct in6_pktinfo */
#include "iro.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define IPV4_HDR_MIN 20
#define IPV4_OFF_TTL 8
#define IPV4_OFF_SRC 12
#define IPV4_OFF_DST 16

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
} sockaddr_any;

/* Room for IPV6_PKTINFO + IPV6_HOPLIMIT (the largest set any socket here asks for). */
typedef union {
  struct cmsghdr align;
  uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
} cmsg_buf;

static int setsockopt_int(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof value);
}

/* Socket buffer sizes: SO_RCVBUFFORCE / SO_SNDBUFFORCE pass net.core.rmem_max / wmem_max when the
 * process has CAP_NET_ADMIN (socket(7)); otherwise the plain option, which the kernel caps. */
static int set_buffer(int fd, int force_opt, int opt, int64_t bytes) {
  if (bytes <= 0) return 0;
  if (setsockopt_int(fd, SOL_SOCKET, force_opt, (int)bytes) == 0) return 0;
  return setsockopt_int(fd, SOL_SOCKET, opt, (int)bytes);
}

static int get_family(napi_env env, napi_value v, int64_t *family) {
  if (!iro_get_int(env, v, "family", 4, 6, family)) return 0;
  if (*family != 4 && *family != 6) {
    iro_throw_range(env, "family must be 4 or 6");
    return 0;
  }
  return 1;
}

/* udpOpen(family, address, port, rcvbuf, sndbuf) -> { fd, port } */
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[5], result;
  int64_t family, port, rcvbuf, sndbuf;
  char address[INET6_ADDRSTRLEN + 1];
  if (!iro_args(env, info, 5, argv) || !get_family(env, argv[0], &family) ||
      !iro_get_string(env, argv[1], "address", address, sizeof address) ||
      !iro_get_int(env, argv[2], "port", 0, 65535, &port) ||
      !iro_get_int(env, argv[3], "rcvbuf", 0, INT32_MAX, &rcvbuf) ||
      !iro_get_int(env, argv[4], "sndbuf", 0, INT32_MAX, &sndbuf)) {
    return NULL;
  }
  sockaddr_any local;
  socklen_t local_len;
  memset(&local, 0, sizeof local);
  if (family == 4) {
    local.in4.sin_family = AF_INET;
    local.in4.sin_port = htons((uint16_t)port);
    local_len = sizeof local.in4;
    if (address[0] != '\0' && inet_pton(AF_INET, address, &local.in4.sin_addr) != 1) {
      iro_throw_range(env, "address is not an IPv4 address");
      return NULL;
    }
  } else {
    local.in6.sin6_family = AF_INET6;
    local.in6.sin6_port = htons((uint16_t)port);
    local_len = sizeof local.in6;
    if (address[0] != '\0' && inet_pton(AF_INET6, address, &local.in6.sin6_addr) != 1) {
      iro_throw_range(env, "address is not an IPv6 address");
      return NULL;
    }
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    iro_throw_errno(env, errno, "socket");
    return NULL;
  }
  /* No SO_REUSEADDR: for UDP it would let a second socket share the port silently, and the
   * kernel would hand each datagram to only one of them. A port held by another iro or by an
   * IKE daemon (PROTOCOL.md F.19) must fail with EADDRINUSE instead. */
  const char *failed = NULL;
  if (family == 4) {
    if (setsockopt_int(fd, IPPROTO_IP, IP_PKTINFO, 1) < 0) failed = "setsockopt(IP_PKTINFO)";
    /* RFC 3948 §3.1.2: the IPv4 UDP checksum SHOULD be transmitted as zero. */
    else if (setsockopt_int(fd, SOL_SOCKET, SO_NO_CHECK, 1) < 0) failed = "setsockopt(SO_NO_CHECK)";
  } else {
    /* IPv6 needs the UDP checksum (RFC 8200 §8.1), which the kernel computes by default. */
    if (setsockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0) failed = "setsockopt(IPV6_V6ONLY)";
    else if (setsockopt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0) failed = "setsockopt(IPV6_RECVPKTINFO)";
  }
  if (failed == NULL && set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf) < 0) failed = "setsockopt(SO_RCVBUF)";
  if (failed == NULL && set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf) < 0) failed = "setsockopt(SO_SNDBUF)";
  if (failed == NULL && bind(fd, &local.sa, local_len) < 0) failed = "bind";
  if (failed == NULL && getsockname(fd, &local.sa, &local_len) < 0) failed = "getsockname";
  if (failed != NULL) {
    int err = errno;
    close(fd);
    iro_throw_errno(env, err, failed);
    return NULL;
  }
  IRO_NAPI(env, napi_create_object(env, &result));
  int bound_port = ntohs(family == 4 ? local.in4.sin_port : local.in6.sin6_port);
  if (!iro_set_int(env, result, "fd", fd) || !iro_set_int(env, result, "port", bound_port)) {
    close(fd);
    iro_throw_napi(env, "udpOpen result");
    return NULL;
  }
  return result;
}

/* rawOpen(family, rcvbuf, sndbuf) -> { fd } */
static napi_value js_raw_open(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int64_t family, rcvbuf, sndbuf;
  if (!iro_args(env, info, 3, argv) || !get_family(env, argv[0], &family) ||
      !iro_get_int(env, argv[1], "rcvbuf", 0, INT32_MAX, &rcvbuf) ||
      !iro_get_int(env, argv[2], "sndbuf", 0, INT32_MAX, &sndbuf)) {
    return NULL;
  }
  /* raw(7): needs CAP_NET_RAW in the network namespace's user namespace, else EPERM. */
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
  if (fd < 0) {
    iro_throw_errno(env, errno, "socket(SOCK_RAW, IPPROTO_ESP)");
    return NULL;
  }
  const char *failed = NULL;
  /* IPv4 receive reads source, destination and TTL from the delivered header; IPv6 delivers no
   * header, so ask for the destination and hop limit as control messages (RFC 3542 §6). */
  if (family == 6) {
    if (setsockopt_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1) < 0) failed = "setsockopt(IPV6_RECVPKTINFO)";
    else if (setsockopt_int(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1) < 0) failed = "setsockopt(IPV6_RECVHOPLIMIT)";
  }
  if (failed == NULL && set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf) < 0) failed = "setsockopt(SO_RCVBUF)";
  if (failed == NULL && set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf) < 0) failed = "setsockopt(SO_SNDBUF)";
  if (failed != NULL) {
    int err = errno;
    close(fd);
    iro_throw_errno(env, err, failed);
    return NULL;
  }
  IRO_NAPI(env, napi_create_object(env, &result));
  if (!iro_set_int(env, result, "fd", fd)) {
    close(fd);
    iro_throw_napi(env, "rawOpen result");
    return NULL;
  }
  return result;
}

/* ---- receive ---- */

typedef struct {
  int fd;
  uint8_t *data;
  uint32_t *offset, *length;
  size_t slot, headroom;
  uint32_t max;
  uint8_t *addr, *family, *local;
  uint16_t *port;  /* UDP only */
  uint8_t *hop;    /* raw only */
  int strip_ipv4;  /* IPv4 raw socket: the IP header arrives in front of the ESP packet */
} recv_args;

static void put_addr(uint8_t *dst16, const void *src, size_t len) {
  memset(dst16, 0, IRO_ADDR_LEN);
  memcpy(dst16, src, len);
}

/* Fills the metadata of packet `n` from message `m` (UDP, or IPv6 raw). Returns 0 to discard. */
static int take_meta(recv_args *a, uint32_t n, struct msghdr *m) {
  const sockaddr_any *from = (const sockaddr_any *)m->msg_name;
  uint8_t *local = a->local + (size_t)n * IRO_ADDR_LEN;
  memset(local, 0, IRO_ADDR_LEN);
  if (from->sa.sa_family == AF_INET) {
    put_addr(a->addr + (size_t)n * IRO_ADDR_LEN, &from->in4.sin_addr, 4);
    a->family[n] = 4;
    if (a->port != NULL) a->port[n] = ntohs(from->in4.sin_port);
  } else if (from->sa.sa_family == AF_INET6) {
    put_addr(a->addr + (size_t)n * IRO_ADDR_LEN, &from->in6.sin6_addr, 16);
    a->family[n] = 6;
    if (a->port != NULL) a->port[n] = ntohs(from->in6.sin6_port);
  } else {
    return 0;
  }
  if (a->hop != NULL) a->hop[n] = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      memcpy(local, &pi.ipi_addr, 4); /* the header's destination address */
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      memcpy(local, &pi.ipi6_addr, 16);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT && a->hop != NULL) {
      int hl;
      memcpy(&hl, CMSG_DATA(c), sizeof hl);
      a->hop[n] = (uint8_t)hl;
    }
  }
  return 1;
}

/* Receives up to a->max packets; returns the count, or -1 after throwing. */
static int64_t recv_batch(napi_env env, recv_args *a) {
  struct mmsghdr msgs[IRO_MMSG_CHUNK];
  struct iovec iov[IRO_MMSG_CHUNK][2];
  sockaddr_any names[IRO_MMSG_CHUNK];
  cmsg_buf ctrl[IRO_MMSG_CHUNK];
  uint8_t iphdr[IRO_MMSG_CHUNK][IPV4_HDR_MIN];
  const size_t cap = a->slot - a->headroom;
  uint32_t n = 0, attempts = 0;
  uint64_t discarded = 0;

  /* Like tunRead, every datagram taken from the socket counts against max. */
  while (attempts < a->max) {
    unsigned k = a->max - attempts < IRO_MMSG_CHUNK ? a->max - attempts : IRO_MMSG_CHUNK;
    /* Message j lands in slot n + j; n <= attempts keeps every slot below max. */
    for (unsigned j = 0; j < k; j++) {
      uint8_t *p = a->data + (size_t)(n + j) * a->slot + a->headroom;
      struct msghdr *m = &msgs[j].msg_hdr;
      memset(m, 0, sizeof *m);
      if (a->strip_ipv4) {
        iov[j][0] = (struct iovec){iphdr[j], IPV4_HDR_MIN};
        iov[j][1] = (struct iovec){p, cap};
        m->msg_iovlen = 2;
      } else {
        iov[j][0] = (struct iovec){p, cap};
        m->msg_iovlen = 1;
      }
      m->msg_iov = iov[j];
      m->msg_name = &names[j];
      m->msg_namelen = sizeof names[j];
      m->msg_control = ctrl[j].buf;
      m->msg_controllen = sizeof ctrl[j].buf;
    }
    int r = recvmmsg(a->fd, msgs, k, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break; /* deliver what was read; the error recurs on the next call */
      iro_count_recv_discard(discarded);
      iro_throw_errno(env, errno, "recvmmsg");
      return -1;
    }
    if (r == 0) break;
    attempts += (uint32_t)r;
    uint32_t base = n;
    for (int j = 0; j < r; j++) {
      struct msghdr *m = &msgs[j].msg_hdr;
      uint8_t *src = a->data + (size_t)(base + j) * a->slot + a->headroom;
      uint8_t *dst = a->data + (size_t)n * a->slot + a->headroom;
      size_t len = msgs[j].msg_len;
      /* MSG_TRUNC: the datagram was longer than the slot; never deliver it cut short. */
      if (m->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        discarded++;
        continue;
      }
      if (a->strip_ipv4) {
        const uint8_t *h = iphdr[j];
        size_t ihl = (size_t)(h[0] & 0x0f) * 4;
        if (len < IPV4_HDR_MIN || (h[0] >> 4) != 4 || ihl < IPV4_HDR_MIN || ihl > len) {
          discarded++;
          continue;
        }
        /* IP options (ihl > 20) were read into the slot in front of the ESP packet. */
        src += ihl - IPV4_HDR_MIN;
        len -= ihl;
        put_addr(a->addr + (size_t)n * IRO_ADDR_LEN, h + IPV4_OFF_SRC, 4);
        put_addr(a->local + (size_t)n * IRO_ADDR_LEN, h + IPV4_OFF_DST, 4);
        a->family[n] = 4;
        a->hop[n] = h[IPV4_OFF_TTL];
      } else if (!take_meta(a, n, m)) {
        discarded++;
        continue;
      }
      if (src != dst) memmove(dst, src, len);
      a->offset[n] = (uint32_t)(dst - a->data);
      a->length[n] = (uint32_t)len;
      n++;
    }
    if ((unsigned)r < k) break;
  }
  if (discarded > 0) iro_count_recv_discard(discarded);
  return n;
}

/* Shared argument parsing of udpRecv / rawRecv. Argument order:
 * udpRecv(fd, data, offset, length, slotSize, headroom, max, addr, port, family, localAddr)
 * rawRecv(fd, data, offset, length, slotSize, headroom, max, addr, family, localAddr, hopLimit) */
static napi_value recv_common(napi_env env, napi_callback_info info, int raw) {
  napi_value argv[11], result;
  int64_t fd, slot, headroom, max;
  size_t l1, l2, l3, l4, l5, l6, l7, l8;
  recv_args a;
  memset(&a, 0, sizeof a);
  if (!iro_args(env, info, 11, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !iro_get_int(env, argv[4], "slotSize", 1, IRO_MAX_SLOT, &slot) ||
      !iro_get_int(env, argv[5], "headroom", 0, slot - 1, &headroom) ||
      !iro_get_int(env, argv[6], "max", 0, IRO_MAX_BATCH, &max) ||
      !iro_get_typed(env, argv[1], "data", napi_uint8_array, (size_t)(max * slot), (void **)&a.data, &l1) ||
      !iro_get_typed(env, argv[2], "offset", napi_uint32_array, (size_t)max, (void **)&a.offset, &l2) ||
      !iro_get_typed(env, argv[3], "length", napi_uint32_array, (size_t)max, (void **)&a.length, &l3) ||
      !iro_get_typed(env, argv[7], "addr", napi_uint8_array, (size_t)max * IRO_ADDR_LEN, (void **)&a.addr, &l4)) {
    return NULL;
  }
  if (raw) {
    if (!iro_get_typed(env, argv[8], "family", napi_uint8_array, (size_t)max, (void **)&a.family, &l5) ||
        !iro_get_typed(env, argv[9], "localAddr", napi_uint8_array, (size_t)max * IRO_ADDR_LEN, (void **)&a.local,
                       &l6) ||
        !iro_get_typed(env, argv[10], "hopLimit", napi_uint8_array, (size_t)max, (void **)&a.hop, &l7)) {
      return NULL;
    }
    int domain;
    socklen_t dlen = sizeof domain;
    if (getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0) {
      iro_throw_errno(env, errno, "getsockopt(SO_DOMAIN)");
      return NULL;
    }
    a.strip_ipv4 = domain == AF_INET;
  } else {
    if (!iro_get_typed(env, argv[8], "port", napi_uint16_array, (size_t)max, (void **)&a.port, &l5) ||
        !iro_get_typed(env, argv[9], "family", napi_uint8_array, (size_t)max, (void **)&a.family, &l6) ||
        !iro_get_typed(env, argv[10], "localAddr", napi_uint8_array, (size_t)max * IRO_ADDR_LEN, (void **)&a.local,
                       &l8)) {
      return NULL;
    }
  }
  a.fd = (int)fd;
  a.slot = (size_t)slot;
  a.headroom = (size_t)headroom;
  a.max = (uint32_t)max;
  int64_t n = recv_batch(env, &a);
  if (n < 0) return NULL;
  IRO_NAPI(env, napi_create_uint32(env, (uint32_t)n, &result));
  return result;
}

static napi_value js_udp_recv(napi_env env, napi_callback_info info) { return recv_common(env, info, 0); }

static napi_value js_raw_recv(napi_env env, napi_callback_info info) { return recv_common(env, info, 1); }

/* ---- send ---- */

typedef struct {
  int fd;
  uint8_t *data;
  size_t data_len;
  uint32_t *offset, *length;
  uint8_t *status;
  uint32_t start, end;
  uint8_t *addr, *family, *local;
  uint16_t *port; /* UDP only; raw sockets send with port 0 (ipv6(7): else it must equal the protocol) */
  uint8_t error_status;
} send_args;

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return 0;
  return 1;
}

/* Builds message `m` for packet i. Returns 0 when the packet's family is unusable. */
static int build_msg(const send_args *a, uint32_t i, struct msghdr *m, struct iovec *iov, sockaddr_any *to,
                     cmsg_buf *ctrl) {
  const uint8_t *dst = a->addr + (size_t)i * IRO_ADDR_LEN;
  const uint8_t *src = a->local + (size_t)i * IRO_ADDR_LEN;
  uint16_t port = a->port != NULL ? a->port[i] : 0;
  memset(m, 0, sizeof *m);
  memset(to, 0, sizeof *to);
  *iov = (struct iovec){a->data + a->offset[i], a->length[i]};
  m->msg_iov = iov;
  m->msg_iovlen = 1;
  m->msg_name = to;
  if (a->family[i] == 4) {
    to->in4.sin_family = AF_INET;
    to->in4.sin_port = htons(port);
    memcpy(&to->in4.sin_addr, dst, 4);
    m->msg_namelen = sizeof to->in4;
    if (!all_zero(src, 4)) {
      /* ip(7) IP_PKTINFO: ipi_spec_dst is the source address the route lookup uses. */
      struct in_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      memcpy(&pi.ipi_spec_dst, src, 4);
      m->msg_control = ctrl->buf;
      m->msg_controllen = CMSG_SPACE(sizeof pi);
      struct cmsghdr *c = CMSG_FIRSTHDR(m);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
  } else if (a->family[i] == 6) {
    to->in6.sin6_family = AF_INET6;
    to->in6.sin6_port = htons(port);
    memcpy(&to->in6.sin6_addr, dst, 16);
    m->msg_namelen = sizeof to->in6;
    if (!all_zero(src, 16)) {
      /* RFC 3542 §6.1: IPV6_PKTINFO on send selects the source address. */
      struct in6_pktinfo pi;
      memset(&pi, 0, sizeof pi);
      memcpy(&pi.ipi6_addr, src, 16);
      m->msg_control = ctrl->buf;
      m->msg_controllen = CMSG_SPACE(sizeof pi);
      struct cmsghdr *c = CMSG_FIRSTHDR(m);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof pi);
      memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
  } else {
    return 0;
  }
  return 1;
}

/* Sends packets start..end-1 whose status is 0. Returns the index to resume from (end when all
 * were handed to the kernel or marked failed), or -1 after throwing. */
static int64_t send_batch(napi_env env, send_args *a) {
  struct mmsghdr msgs[IRO_MMSG_CHUNK];
  struct iovec iov[IRO_MMSG_CHUNK];
  sockaddr_any to[IRO_MMSG_CHUNK];
  cmsg_buf ctrl[IRO_MMSG_CHUNK];
  uint32_t idx[IRO_MMSG_CHUNK];
  uint32_t i = a->start;
  while (i < a->end) {
    unsigned k = 0;
    for (; i < a->end && k < IRO_MMSG_CHUNK; i++) {
      if (a->status[i] != 0) continue;
      if (!build_msg(a, i, &msgs[k].msg_hdr, &iov[k], &to[k], &ctrl[k])) {
        a->status[i] = a->error_status;
        continue;
      }
      idx[k++] = i;
    }
    unsigned sent = 0;
    while (sent < k) {
      int r = sendmmsg(a->fd, msgs + sent, k - sent, MSG_DONTWAIT);
      if (r > 0) {
        sent += (unsigned)r;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      /* The socket buffer is full: resume at the first packet not sent, when writable. */
      if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK) return idx[sent];
      if (errno == EBADF || errno == ENOTSOCK) {
        iro_throw_errno(env, errno, "sendmmsg");
        return -1;
      }
      /* sendmmsg(2) stops at the first message that fails and reports the error only when it
       * is the first of the call, so this message is the one the kernel refused (no route,
       * unusable source address, too big, ...): mark it and go on with the next. */
      a->status[idx[sent]] = a->error_status;
      sent++;
    }
  }
  return a->end;
}

/* udpSend(fd, data, offset, length, status, start, end, addr, port, family, localAddr, errorStatus)
 * rawSend(fd, data, offset, length, status, start, end, addr, family, localAddr, errorStatus) */
static napi_value send_common(napi_env env, napi_callback_info info, int raw) {
  const size_t argc = raw ? 11 : 12;
  napi_value argv[12], result;
  int64_t fd, start, end, error_status;
  size_t l2, l3, l4, l5, l6, l7, l8;
  send_args a;
  memset(&a, 0, sizeof a);
  napi_value *rest = argv + (raw ? 8 : 9); /* family, localAddr, errorStatus */
  if (!iro_args(env, info, argc, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !iro_get_int(env, argv[6], "count", 0, IRO_MAX_BATCH, &end) ||
      !iro_get_int(env, argv[5], "start", 0, end, &start) ||
      !iro_get_int(env, rest[2], "errorStatus", 1, 255, &error_status) ||
      !iro_get_typed(env, argv[1], "data", napi_uint8_array, 0, (void **)&a.data, &a.data_len) ||
      !iro_get_typed(env, argv[2], "offset", napi_uint32_array, (size_t)end, (void **)&a.offset, &l2) ||
      !iro_get_typed(env, argv[3], "length", napi_uint32_array, (size_t)end, (void **)&a.length, &l3) ||
      !iro_get_typed(env, argv[4], "status", napi_uint8_array, (size_t)end, (void **)&a.status, &l4) ||
      !iro_get_typed(env, argv[7], "addr", napi_uint8_array, (size_t)end * IRO_ADDR_LEN, (void **)&a.addr, &l5) ||
      (!raw && !iro_get_typed(env, argv[8], "port", napi_uint16_array, (size_t)end, (void **)&a.port, &l6)) ||
      !iro_get_typed(env, rest[0], "family", napi_uint8_array, (size_t)end, (void **)&a.family, &l7) ||
      !iro_get_typed(env, rest[1], "localAddr", napi_uint8_array, (size_t)end * IRO_ADDR_LEN, (void **)&a.local,
                     &l8)) {
    return NULL;
  }
  for (int64_t i = start; i < end; i++) {
    if (a.status[i] == 0 && (uint64_t)a.offset[i] + a.length[i] > a.data_len) {
      iro_throw_range(env, "packet extends past the end of data");
      return NULL;
    }
  }
  a.fd = (int)fd;
  a.start = (uint32_t)start;
  a.end = (uint32_t)end;
  a.error_status = (uint8_t)error_status;
  int64_t next = send_batch(env, &a);
  if (next < 0) return NULL;
  IRO_NAPI(env, napi_create_uint32(env, (uint32_t)next, &result));
  return result;
}

static napi_value js_udp_send(napi_env env, napi_callback_info info) { return send_common(env, info, 0); }

static napi_value js_raw_send(napi_env env, napi_callback_info info) { return send_common(env, info, 1); }

int iro_init_sock(napi_env env, napi_value exports) {
  return iro_export(env, exports, "udpOpen", js_udp_open) && iro_export(env, exports, "udpRecv", js_udp_recv) &&
         iro_export(env, exports, "udpSend", js_udp_send) && iro_export(env, exports, "rawOpen", js_raw_open) &&
         iro_export(env, exports, "rawRecv", js_raw_recv) && iro_export(env, exports, "rawSend", js_raw_send);
}
