/*
 * Wire sockets: UDP for ESP-in-UDP (RFC 3948) and raw IP protocol 50 for bare ESP (RFC 4303),
 * both moved in batches with recvmmsg(2) / sendmmsg(2).
 *
 * UDP offloads (udp(7), Documentation/networking/segmentation-offloads.rst, "UDP GSO"):
 * - send: consecutive packets to the same peer from the same source with the same size (the
 *   last may be shorter) go out as ONE message whose iovecs are the packets' slots, with a
 *   UDP_SEGMENT control message giving the size: the stack runs once per group and the group
 *   is cut into datagrams at the device, or by the NIC. The kernel refuses UDP_SEGMENT on a
 *   socket with SO_NO_CHECK (udp_send_skb: EINVAL), so an IPv4 socket clears SO_NO_CHECK for
 *   the sendmmsg calls that carry such a message: those datagrams carry a UDP checksum,
 *   computed by the device where it can (CHECKSUM_PARTIAL). RFC 3948 §3.1.2 allows it: the
 *   checksum SHOULD be zero, and receivers MUST NOT depend on it being zero. Every other
 *   datagram keeps the zero checksum. A group the kernel refuses (EMSGSIZE when a segment
 *   exceeds the path MTU, EIO on an xfrm route, ...) is sent again one datagram per message.
 * - receive: UDP_GRO lets the kernel deliver a run of datagrams of one flow as one coalesced
 *   buffer with a UDP_GRO control message giving the segment size; udpRecv reads into 64 KiB
 *   buffers of a per-socket receive state and splits them into consecutive slots, keeping what
 *   does not fit the batch for the next call.
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
#include <netinet/udp.h> /* SOL_UDP, UDP_SEGMENT, UDP_GRO */
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define IPV4_HDR_MIN 20
#define IPV4_OFF_TTL 8
#define IPV4_OFF_SRC 12
#define IPV4_OFF_DST 16
#define IPV6_HDR_LEN 40
#define UDP_HDR_LEN 8
#define IP_MAX_TOTAL 65535

/* Segments of one UDP_SEGMENT message (UDP_MAX_SEGMENTS: 64 before Linux 6.10, 128 since). */
#define GSO_MAX_SEGS 64
/* iovecs of one sendmmsg call, over all its messages (at most UIO_MAXIOV = 1024). */
#define SEND_IOV_MAX 1024

/* UDP GRO receive state (udpRecv's `state`): a header, then GRO_MSGS buffers one recvmmsg
 * fills. A coalesced datagram is at most 64 KiB (gro_max_size); the stride is a little more so
 * that the buffers do not all fall on the same cache sets. */
#define GRO_MSGS 32
#define GRO_BUF_BYTES 65536
#define GRO_BUF_STRIDE (GRO_BUF_BYTES + 256)
#define GRO_HEAD_BYTES 4096
#define UDP_RX_STATE_BYTES (GRO_HEAD_BYTES + GRO_MSGS * GRO_BUF_STRIDE)

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
} sockaddr_any;

/* Room for IPV6_PKTINFO + IPV6_HOPLIMIT or UDP_GRO on receive, IPV6_PKTINFO + UDP_SEGMENT on
 * send (the largest sets any socket here uses). */
typedef union {
  struct cmsghdr align;
  uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(int))];
} cmsg_buf;

/* What is known of a received datagram besides its bytes. */
typedef struct {
  uint8_t addr[IRO_ADDR_LEN];  /* peer (outer source) */
  uint8_t local[IRO_ADDR_LEN]; /* outer destination */
  uint16_t port;
  uint8_t family;
  uint8_t hop;
} pkt_meta;

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

/* udpOpen(family, address, port, rcvbuf, sndbuf, offload) -> { fd, port, gso, gro } */
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[6], result;
  int64_t family, port, rcvbuf, sndbuf;
  int offload;
  char address[INET6_ADDRSTRLEN + 1];
  if (!iro_args(env, info, 6, argv) || !get_family(env, argv[0], &family) ||
      !iro_get_string(env, argv[1], "address", address, sizeof address) ||
      !iro_get_int(env, argv[2], "port", 0, 65535, &port) ||
      !iro_get_int(env, argv[3], "rcvbuf", 0, INT32_MAX, &rcvbuf) ||
      !iro_get_int(env, argv[4], "sndbuf", 0, INT32_MAX, &sndbuf) ||
      !iro_get_bool(env, argv[5], "offload", &offload)) {
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
  /* Kernels without UDP GSO (< 4.18) or GRO (< 5.0) refuse the options (ENOPROTOOPT): the
   * socket then works without them. UDP_SEGMENT 0 only probes: the size goes with each send. */
  int gso = offload && setsockopt_int(fd, SOL_UDP, UDP_SEGMENT, 0) == 0;
  int gro = offload && setsockopt_int(fd, SOL_UDP, UDP_GRO, 1) == 0;
  napi_value jgso, jgro;
  IRO_NAPI(env, napi_create_object(env, &result));
  int bound_port = ntohs(family == 4 ? local.in4.sin_port : local.in6.sin6_port);
  if (!iro_set_int(env, result, "fd", fd) || !iro_set_int(env, result, "port", bound_port) ||
      napi_get_boolean(env, gso, &jgso) != napi_ok || napi_set_named_property(env, result, "gso", jgso) != napi_ok ||
      napi_get_boolean(env, gro, &jgro) != napi_ok || napi_set_named_property(env, result, "gro", jgro) != napi_ok) {
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
  uint8_t *gro;    /* UDP with UDP_GRO: the receive state, else NULL */
} recv_args;

static void put_addr(uint8_t *dst16, const void *src, size_t len) {
  memset(dst16, 0, IRO_ADDR_LEN);
  memcpy(dst16, src, len);
}

/* Reads the peer from msg_name and the local address, hop limit and GRO segment size (0 when
 * the datagram is not coalesced) from the control messages of `m`. Returns 0 to discard. */
static int take_meta(struct msghdr *m, pkt_meta *meta, uint32_t *gso) {
  const sockaddr_any *from = (const sockaddr_any *)m->msg_name;
  memset(meta->local, 0, IRO_ADDR_LEN);
  meta->hop = 0;
  *gso = 0;
  if (from->sa.sa_family == AF_INET) {
    put_addr(meta->addr, &from->in4.sin_addr, 4);
    meta->family = 4;
    meta->port = ntohs(from->in4.sin_port);
  } else if (from->sa.sa_family == AF_INET6) {
    put_addr(meta->addr, &from->in6.sin6_addr, 16);
    meta->family = 6;
    meta->port = ntohs(from->in6.sin6_port);
  } else {
    return 0;
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      memcpy(meta->local, &pi.ipi_addr, 4); /* the header's destination address */
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      memcpy(meta->local, &pi.ipi6_addr, 16);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      int hl;
      memcpy(&hl, CMSG_DATA(c), sizeof hl);
      meta->hop = (uint8_t)hl;
    } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size;
      memcpy(&size, CMSG_DATA(c), sizeof size);
      *gso = size > 0 ? (uint32_t)size : 0;
    }
  }
  return 1;
}

/* Sets the metadata of packet n. */
static void put_meta(recv_args *a, uint32_t n, const pkt_meta *meta) {
  memcpy(a->addr + (size_t)n * IRO_ADDR_LEN, meta->addr, IRO_ADDR_LEN);
  memcpy(a->local + (size_t)n * IRO_ADDR_LEN, meta->local, IRO_ADDR_LEN);
  a->family[n] = meta->family;
  if (a->port != NULL) a->port[n] = meta->port;
  if (a->hop != NULL) a->hop[n] = meta->hop;
}

static void init_msg(struct msghdr *m, struct iovec *iov, size_t iovlen, sockaddr_any *name, cmsg_buf *ctrl) {
  memset(m, 0, sizeof *m);
  m->msg_iov = iov;
  m->msg_iovlen = iovlen;
  m->msg_name = name;
  m->msg_namelen = sizeof *name;
  m->msg_control = ctrl->buf;
  m->msg_controllen = sizeof ctrl->buf;
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
      if (a->strip_ipv4) {
        iov[j][0] = (struct iovec){iphdr[j], IPV4_HDR_MIN};
        iov[j][1] = (struct iovec){p, cap};
        init_msg(&msgs[j].msg_hdr, iov[j], 2, &names[j], &ctrl[j]);
      } else {
        iov[j][0] = (struct iovec){p, cap};
        init_msg(&msgs[j].msg_hdr, iov[j], 1, &names[j], &ctrl[j]);
      }
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
      pkt_meta meta;
      uint32_t gso;
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
        put_addr(meta.addr, h + IPV4_OFF_SRC, 4);
        put_addr(meta.local, h + IPV4_OFF_DST, 4);
        meta.family = 4;
        meta.port = 0;
        meta.hop = h[IPV4_OFF_TTL];
      } else if (!take_meta(m, &meta, &gso)) {
        discarded++;
        continue;
      }
      put_meta(a, n, &meta);
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

/* The GRO receive state: datagrams read by the last recvmmsg and not yet all delivered. */
typedef struct {
  uint32_t pending; /* first, host order: nonzero while datagrams wait (read by index.ts) */
  uint32_t count;   /* datagrams held, in buffers 0..count-1 */
  uint32_t next;    /* the datagram being split */
  uint32_t pos;     /* byte offset of its next segment */
  struct {
    pkt_meta meta;
    uint32_t len;
    uint32_t gso; /* segment size, 0 for a datagram that was not coalesced */
  } msg[GRO_MSGS];
} gro_head;

_Static_assert(sizeof(gro_head) <= GRO_HEAD_BYTES, "gro_head outgrew its room");

/* recv_batch for a socket with UDP_GRO: receives into the state's buffers and splits every
 * coalesced datagram into segments of its UDP_GRO size, one per slot. Returns the count, or -1
 * after throwing. */
static int64_t recv_batch_gro(napi_env env, recv_args *a) {
  struct mmsghdr msgs[GRO_MSGS];
  struct iovec iov[GRO_MSGS];
  sockaddr_any names[GRO_MSGS];
  cmsg_buf ctrl[GRO_MSGS];
  gro_head *st = (gro_head *)a->gro;
  uint8_t *bufs = a->gro + GRO_HEAD_BYTES;
  const size_t cap = a->slot - a->headroom;
  uint32_t n = 0, attempts = 0;
  uint64_t discarded = 0, gro_reads = 0, gro_segments = 0;
  int drained = 0;
  if (st->pending && (st->count > GRO_MSGS || st->next >= st->count)) st->pending = 0; /* overwritten by the caller */
  for (;;) {
    while (st->pending && n < a->max) {
      const pkt_meta *meta = &st->msg[st->next].meta;
      const uint32_t len = st->msg[st->next].len, gso = st->msg[st->next].gso;
      uint32_t seg = len - st->pos;
      if (gso > 0 && seg > gso) seg = gso;
      if (len > GRO_BUF_BYTES || st->pos > len || seg > cap) {
        /* Slots smaller than those of the call that kept the datagram (or a state the caller
         * overwrote): drop the rest of this datagram rather than overflow a slot. */
        discarded++;
        st->pos = 0;
        if (++st->next == st->count) st->pending = 0;
        continue;
      }
      uint8_t *dst = a->data + (size_t)n * a->slot + a->headroom;
      memcpy(dst, bufs + (size_t)st->next * GRO_BUF_STRIDE + st->pos, seg);
      put_meta(a, n, meta);
      a->offset[n] = (uint32_t)(dst - a->data);
      a->length[n] = seg;
      n++;
      st->pos += seg;
      if (st->pos >= len) {
        st->pos = 0;
        if (++st->next == st->count) st->pending = 0;
      }
    }
    /* Every datagram taken from the socket counts against max, as in recv_batch. */
    if (st->pending || n >= a->max || attempts >= a->max || drained) break;
    unsigned k = GRO_MSGS;
    if (a->max - n < k) k = a->max - n;
    if (a->max - attempts < k) k = a->max - attempts;
    for (unsigned j = 0; j < k; j++) {
      iov[j] = (struct iovec){bufs + (size_t)j * GRO_BUF_STRIDE, GRO_BUF_BYTES};
      init_msg(&msgs[j].msg_hdr, &iov[j], 1, &names[j], &ctrl[j]);
    }
    int r = recvmmsg(a->fd, msgs, k, MSG_DONTWAIT, NULL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break;
      iro_count_recv_discard(discarded);
      iro_throw_errno(env, errno, "recvmmsg");
      return -1;
    }
    if (r == 0) break;
    attempts += (uint32_t)r;
    drained = (unsigned)r < k;
    uint32_t kept = 0;
    for (int j = 0; j < r; j++) {
      struct msghdr *m = &msgs[j].msg_hdr;
      const uint32_t len = msgs[j].msg_len;
      uint32_t gso;
      if ((m->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || !take_meta(m, &st->msg[kept].meta, &gso)) {
        discarded++;
        continue;
      }
      if (gso == 0 || len <= gso) {
        gso = 0;
        if (len > cap) {
          discarded++;
          continue;
        }
      } else {
        const uint32_t segs = (len + gso - 1) / gso;
        if (gso > cap) {
          discarded += segs;
          continue;
        }
        gro_reads++;
        gro_segments += segs;
      }
      /* Datagrams are kept in order; a kept one moves down to buffer `kept`. */
      if ((uint32_t)j != kept) memmove(bufs + (size_t)kept * GRO_BUF_STRIDE, bufs + (size_t)j * GRO_BUF_STRIDE, len);
      st->msg[kept].len = len;
      st->msg[kept].gso = gso;
      kept++;
    }
    st->count = kept;
    st->next = 0;
    st->pos = 0;
    st->pending = kept > 0;
  }
  if (discarded > 0) iro_count_recv_discard(discarded);
  if (gro_reads > 0) {
    iro_count_offload(IRO_OFL_UDP_GRO_READS, gro_reads);
    iro_count_offload(IRO_OFL_UDP_GRO_SEGMENTS, gro_segments);
  }
  return n;
}

/* Shared argument parsing of udpRecv / rawRecv. Argument order:
 * udpRecv(fd, data, offset, length, slotSize, headroom, max, addr, port, family, localAddr, state)
 * rawRecv(fd, data, offset, length, slotSize, headroom, max, addr, family, localAddr, hopLimit) */
static napi_value recv_common(napi_env env, napi_callback_info info, int raw) {
  napi_value argv[12], result;
  int64_t fd, slot, headroom, max;
  size_t l1, l2, l3, l4, l5, l6, l7, l8;
  recv_args a;
  memset(&a, 0, sizeof a);
  if (!iro_args(env, info, raw ? 11 : 12, argv) || !iro_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
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
    napi_valuetype t;
    if (!iro_get_typed(env, argv[8], "port", napi_uint16_array, (size_t)max, (void **)&a.port, &l5) ||
        !iro_get_typed(env, argv[9], "family", napi_uint8_array, (size_t)max, (void **)&a.family, &l6) ||
        !iro_get_typed(env, argv[10], "localAddr", napi_uint8_array, (size_t)max * IRO_ADDR_LEN, (void **)&a.local,
                       &l8)) {
      return NULL;
    }
    IRO_NAPI(env, napi_typeof(env, argv[11], &t));
    if (t != napi_null) {
      if (!iro_get_typed(env, argv[11], "state", napi_uint8_array, UDP_RX_STATE_BYTES, (void **)&a.gro, &l7)) {
        return NULL;
      }
      if ((uintptr_t)a.gro % 8 != 0) {
        iro_throw_type(env, "state must start on an 8-byte boundary");
        return NULL;
      }
    }
  }
  a.fd = (int)fd;
  a.slot = (size_t)slot;
  a.headroom = (size_t)headroom;
  a.max = (uint32_t)max;
  int64_t n = a.gro != NULL ? recv_batch_gro(env, &a) : recv_batch(env, &a);
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
  int gso; /* group packets into UDP_SEGMENT messages */
} send_args;

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return 0;
  return 1;
}

/* Packets i and j go to the same peer from the same source. */
static int same_path(const send_args *a, uint32_t i, uint32_t j) {
  return a->family[i] == a->family[j] && (a->port == NULL || a->port[i] == a->port[j]) &&
         memcmp(a->addr + (size_t)i * IRO_ADDR_LEN, a->addr + (size_t)j * IRO_ADDR_LEN, IRO_ADDR_LEN) == 0 &&
         memcmp(a->local + (size_t)i * IRO_ADDR_LEN, a->local + (size_t)j * IRO_ADDR_LEN, IRO_ADDR_LEN) == 0;
}

/* Appends a control message to `m` (whose msg_controllen counts what is already there). */
static void add_cmsg(struct msghdr *m, int level, int type, const void *value, size_t len) {
  struct cmsghdr *c = (struct cmsghdr *)((uint8_t *)m->msg_control + m->msg_controllen);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  memcpy(CMSG_DATA(c), value, len);
  m->msg_controllen += CMSG_SPACE(len);
}

/* Builds message `m` for packet i and the `niov - 1` packets whose iovecs follow its own in
 * `iov`; `gso_size` > 0 adds UDP_SEGMENT. Returns 0 when the packet's family is unusable. */
static int build_msg(const send_args *a, uint32_t i, struct msghdr *m, struct iovec *iov, size_t niov,
                     sockaddr_any *to, cmsg_buf *ctrl, uint16_t gso_size) {
  const uint8_t *dst = a->addr + (size_t)i * IRO_ADDR_LEN;
  const uint8_t *src = a->local + (size_t)i * IRO_ADDR_LEN;
  uint16_t port = a->port != NULL ? a->port[i] : 0;
  memset(m, 0, sizeof *m);
  memset(to, 0, sizeof *to);
  m->msg_iov = iov;
  m->msg_iovlen = niov;
  m->msg_name = to;
  m->msg_control = ctrl->buf;
  m->msg_controllen = 0;
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
      add_cmsg(m, IPPROTO_IP, IP_PKTINFO, &pi, sizeof pi);
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
      add_cmsg(m, IPPROTO_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
    }
  } else {
    return 0;
  }
  if (gso_size > 0) add_cmsg(m, SOL_UDP, UDP_SEGMENT, &gso_size, sizeof gso_size);
  if (m->msg_controllen == 0) m->msg_control = NULL;
  return 1;
}

/* Sends packets start..end-1 whose status is 0. Returns the index to resume from (end when all
 * were handed to the kernel or marked failed), or -1 after throwing. */
static int64_t send_batch(napi_env env, send_args *a) {
  struct mmsghdr msgs[IRO_MMSG_CHUNK];
  struct iovec iov[SEND_IOV_MAX];
  sockaddr_any to[IRO_MMSG_CHUNK];
  cmsg_buf ctrl[IRO_MMSG_CHUNK];
  uint32_t first[IRO_MMSG_CHUNK], last[IRO_MMSG_CHUNK], segs[IRO_MMSG_CHUNK];
  /* Packets below this index go one per message: the kernel refused them as a group. */
  uint32_t single_until = a->start;
  int nocheck = -1; /* SO_NO_CHECK of the socket, read when a group first needs clearing it */
  uint64_t gso_sends = 0, gso_segments = 0, refused = 0;
  int64_t next = a->end;
  uint32_t i = a->start;
  while (i < a->end) {
    unsigned k = 0;
    size_t niov = 0;
    int grouped = 0;
    uint32_t j = i;
    while (j < a->end && k < IRO_MMSG_CHUNK && niov < SEND_IOV_MAX) {
      if (a->status[j] != 0) {
        j++;
        continue;
      }
      const size_t seg = a->length[j];
      size_t total = seg;
      unsigned n = 1;
      uint32_t end_j = j;
      iov[niov] = (struct iovec){a->data + a->offset[j], seg};
      if (a->gso && j >= single_until && seg > 0) {
        /* udp_send_skb: a group is at most 64 KiB of IP packet, every datagram but the last
         * exactly gso_size long, the last no longer. */
        const size_t limit = IP_MAX_TOTAL - UDP_HDR_LEN - (a->family[j] == 4 ? IPV4_HDR_MIN : IPV6_HDR_LEN);
        for (uint32_t q = j + 1; q < a->end && n < GSO_MAX_SEGS && niov + n < SEND_IOV_MAX; q++) {
          if (a->status[q] != 0) continue;
          if (a->length[q] > seg || total + a->length[q] > limit || !same_path(a, j, q)) break;
          iov[niov + n++] = (struct iovec){a->data + a->offset[q], a->length[q]};
          total += a->length[q];
          end_j = q;
          if (a->length[q] < seg) break;
        }
      }
      if (!build_msg(a, j, &msgs[k].msg_hdr, &iov[niov], n, &to[k], &ctrl[k], n > 1 ? (uint16_t)seg : 0)) {
        a->status[j] = a->error_status;
        j++;
        continue;
      }
      first[k] = j;
      last[k] = end_j;
      segs[k] = n;
      grouped |= n > 1;
      niov += n;
      k++;
      j = end_j + 1;
    }
    if (k == 0) {
      i = j;
      continue;
    }
    int restore = 0;
    if (grouped) {
      if (nocheck < 0) {
        int v = 0;
        socklen_t vlen = sizeof v;
        nocheck = getsockopt(a->fd, SOL_SOCKET, SO_NO_CHECK, &v, &vlen) == 0 && v != 0;
      }
      restore = nocheck && setsockopt_int(a->fd, SOL_SOCKET, SO_NO_CHECK, 0) == 0;
    }
    unsigned sent = 0;
    int err = 0, retry_from = -1;
    while (sent < k) {
      int r = sendmmsg(a->fd, msgs + sent, k - sent, MSG_DONTWAIT);
      if (r > 0) {
        for (unsigned m = sent; m < sent + (unsigned)r; m++) {
          if (segs[m] > 1) {
            gso_sends++;
            gso_segments += segs[m];
          }
        }
        sent += (unsigned)r;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      /* The socket buffer is full: resume at the first packet not sent, when writable. */
      if (r == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
        err = EAGAIN;
        break;
      }
      if (errno == EBADF || errno == ENOTSOCK) {
        err = errno;
        break;
      }
      if (segs[sent] > 1) {
        /* The group was refused as a whole: send its packets one per message. */
        refused++;
        single_until = last[sent] + 1;
        retry_from = (int)sent;
        break;
      }
      /* sendmmsg(2) stops at the first message that fails and reports the error only when it
       * is the first of the call, so this message is the one the kernel refused (no route,
       * unusable source address, too big, ...): mark it and go on with the next. */
      a->status[first[sent]] = a->error_status;
      sent++;
    }
    if (restore) setsockopt_int(a->fd, SOL_SOCKET, SO_NO_CHECK, 1);
    if (err == EAGAIN) {
      next = first[sent];
      break;
    }
    if (err != 0) {
      iro_throw_errno(env, err, "sendmmsg");
      next = -1;
      break;
    }
    i = retry_from >= 0 ? first[retry_from] : j;
  }
  if (gso_sends > 0) {
    iro_count_offload(IRO_OFL_UDP_GSO_SENDS, gso_sends);
    iro_count_offload(IRO_OFL_UDP_GSO_SEGMENTS, gso_segments);
  }
  if (refused > 0) iro_count_offload(IRO_OFL_UDP_GSO_REFUSED, refused);
  return next;
}

/* udpSend(fd, data, offset, length, status, start, end, addr, port, family, localAddr, errorStatus, gso)
 * rawSend(fd, data, offset, length, status, start, end, addr, family, localAddr, errorStatus) */
static napi_value send_common(napi_env env, napi_callback_info info, int raw) {
  const size_t argc = raw ? 11 : 13;
  napi_value argv[13], result;
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
                     &l8) ||
      (!raw && !iro_get_bool(env, argv[12], "gso", &a.gso))) {
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
  napi_value bytes;
  return iro_export(env, exports, "udpOpen", js_udp_open) && iro_export(env, exports, "udpRecv", js_udp_recv) &&
         iro_export(env, exports, "udpSend", js_udp_send) && iro_export(env, exports, "rawOpen", js_raw_open) &&
         iro_export(env, exports, "rawRecv", js_raw_recv) && iro_export(env, exports, "rawSend", js_raw_send) &&
         napi_create_uint32(env, UDP_RX_STATE_BYTES, &bytes) == napi_ok &&
         napi_set_named_property(env, exports, "udpRxStateBytes", bytes) == napi_ok;
}
