/*
 * Offloads between a TUN's large packets and the MTU-sized packets the dataplane seals: the
 * Internet checksum they need, segmentation of super-packets read from a TUN, and coalescing of
 * TCP segments into one write.
 *
 * Kernel interface: a TUN opened with IFF_VNET_HDR prefixes every packet with a struct
 * virtio_net_hdr (include/uapi/linux/virtio_net.h, include/linux/virtio_net.h). After
 * TUNSETOFFLOAD with TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 (| TUN_F_USO4 | TUN_F_USO6) a read may
 * return:
 *   - a GSO super-packet (gso_type TCPV4 / TCPV6 / UDP_L4) of up to 64 KiB: one IP + transport
 *     header, then the payload of many segments of gso_size bytes (the last may be shorter),
 *     the transport checksum left partial. The virtio hdr_len is only a hint of the linear part
 *     (virtio_net_hdr_from_skb: skb_headlen), so the header length is parsed here;
 *   - a single packet with VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum field holds the
 *     pseudo-header sum, and the sum from csum_start to the end must be folded into it.
 * iro_gso_split cuts a super-packet into the packets the kernel itself would have sent
 * (tcp_gso_segment, __udp_gso_segment, inet_gso_segment): sequence numbers advancing by
 * gso_size, FIN and PSH on the last segment only, CWR on the first only, IPv4 ID + i, lengths
 * and checksums per segment. iro_csum_complete does what skb_checksum_help does.
 *
 * On write, a GSO packet is accepted without any TUNSETOFFLOAD (virtio_net_hdr_to_skb):
 * iro_coalesce_plan groups TCP segments of one flow under the rules of the kernel's own GRO
 * (tcp_gro_receive: same addresses, ports, ack number, window, options and IP header fields;
 * contiguous sequence numbers; every segment but the last of the same size; only ACK, plus PSH
 * on the last segment), like wireguard-go's tun/offload_linux.go. A coalesced packet is handed
 * over with its checksum partial (CHECKSUM_PARTIAL: the receiving stack does not verify it), so
 * every segment's checksums are verified before it joins: a corrupt segment is written alone
 * and the kernel drops it as it would have.
 *
 * Checksums (RFC 1071): 32-bit words are summed in memory order into 64 bits, folded to 16 and
 * stored in memory order, which yields the right bytes whatever the host's byte order (RFC 1071
 * §2(B)); the pseudo-header (RFC 793 §3.1, RFC 768, RFC 8200 §8.1) is summed the same way.
 */
#include "iro.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>

/* include/uapi/linux/virtio_net.h (NEEDS_CSUM and GSO_NONE in iro.h) */
#define VNET_F_NEEDS_CSUM IRO_VNET_F_NEEDS_CSUM
#define VNET_GSO_NONE IRO_VNET_GSO_NONE
#define VNET_GSO_TCPV4 1
#define VNET_GSO_TCPV6 4
#define VNET_GSO_UDP_L4 5 /* since Linux 6.2 (TUN_F_USO4/6) */
#define VNET_GSO_ECN 0x80

/* IPv4 (RFC 791), IPv6 (RFC 8200), TCP (RFC 9293), UDP (RFC 768) header layouts. */
#define IPV4_HDR_MIN 20
#define IPV4_OFF_TOS 1
#define IPV4_OFF_TOTAL_LEN 2
#define IPV4_OFF_ID 4
#define IPV4_OFF_FLAGS 6
#define IPV4_OFF_TTL 8
#define IPV4_OFF_PROTO 9
#define IPV4_OFF_CHECKSUM 10
#define IPV4_OFF_SRC 12
#define IPV4_FLAGS_MASK 0xe0     /* reserved, DF, MF bits of the flags byte */
#define IPV4_MF_FRAG_MASK 0x3fff /* MF and fragment offset */
#define IPV4_FRAG_MASK 0x1fff
#define IPV6_HDR_LEN 40
#define IPV6_OFF_PAYLOAD_LEN 4
#define IPV6_OFF_NEXT_HDR 6
#define IPV6_OFF_HOP_LIMIT 7
#define IPV6_OFF_SRC 8
#define IPV6_EXT_UNIT 8
#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_DSTOPTS 60
#define TCP_HDR_MIN 20
#define TCP_OFF_SEQ 4
#define TCP_OFF_ACK 8
#define TCP_OFF_DOFF 12
#define TCP_OFF_FLAGS 13
#define TCP_OFF_WINDOW 14
#define TCP_OFF_CHECKSUM 16
#define TCP_OFF_URGENT 18
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define UDP_HDR_LEN 8
#define UDP_OFF_LEN 4
#define UDP_OFF_CHECKSUM 6
#define IP_MAX_TOTAL 65535
/* Units a flow may keep open while other flows interleave with it in one batch. */
#define COALESCE_OPEN_MAX 8

/* ---- byte helpers ---- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void wr16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* ---- checksums ---- */

/* Adds the `len` bytes at `p` to a running sum; an odd last byte is padded with zero. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len) {
  uint32_t w[4];
  while (len >= sizeof w) {
    memcpy(w, p, sizeof w);
    sum += (uint64_t)w[0] + w[1] + w[2] + w[3];
    p += sizeof w;
    len -= sizeof w;
  }
  while (len >= 4) {
    memcpy(w, p, 4);
    sum += w[0];
    p += 4;
    len -= 4;
  }
  if (len > 0) {
    uint8_t tail[4] = {0, 0, 0, 0};
    memcpy(tail, p, len);
    memcpy(w, tail, 4);
    sum += w[0];
  }
  return sum;
}

/* The 16-bit one's complement sum, in memory order (not inverted). */
static uint16_t csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

static void csum_store(uint8_t *at, uint16_t folded) { memcpy(at, &folded, sizeof folded); }

/* Pseudo-header sum of the IP packet at `ip` for an upper-layer length `l4len`: addresses from
 * the header (contiguous source and destination), then the length and protocol words. The
 * 32-bit length + zero + next header form of RFC 8200 §8.1 sums to the same value as RFC 793's
 * zero + protocol + 16-bit length, so it serves both families. */
static uint64_t pseudo_sum(const uint8_t *ip, int v6, uint8_t proto, uint32_t l4len) {
  uint8_t tail[8] = {(uint8_t)(l4len >> 24), (uint8_t)(l4len >> 16), (uint8_t)(l4len >> 8), (uint8_t)l4len, 0, 0, 0, proto};
  uint64_t sum = v6 ? csum_add(0, ip + IPV6_OFF_SRC, 32) : csum_add(0, ip + IPV4_OFF_SRC, 8);
  return csum_add(sum, tail, sizeof tail);
}

static void ipv4_fill_checksum(uint8_t *ip, size_t ihl) {
  ip[IPV4_OFF_CHECKSUM] = 0;
  ip[IPV4_OFF_CHECKSUM + 1] = 0;
  csum_store(ip + IPV4_OFF_CHECKSUM, (uint16_t)~csum_fold(csum_add(0, ip, ihl)));
}

/* ---- virtio_net_hdr ---- */

void iro_vnet_decode(const uint8_t *b, iro_vnet *h) {
  h->flags = b[0];
  h->gso_type = b[1];
  memcpy(&h->hdr_len, b + 2, 2);
  memcpy(&h->gso_size, b + 4, 2);
  memcpy(&h->csum_start, b + 6, 2);
  memcpy(&h->csum_offset, b + 8, 2);
}

void iro_vnet_encode(const iro_vnet *h, uint8_t *b) {
  b[0] = h->flags;
  b[1] = h->gso_type;
  memcpy(b + 2, &h->hdr_len, 2);
  memcpy(b + 4, &h->gso_size, 2);
  memcpy(b + 6, &h->csum_start, 2);
  memcpy(b + 8, &h->csum_offset, 2);
}

/* ---- segmentation (read side) ---- */

/* 1 when the IPv6 extension headers in [40, iphl) are only hop-by-hop and destination options,
 * which leave the pseudo-header's destination alone (a routing header would change it). */
static int ipv6_ext_plain(const uint8_t *pkt, size_t iphl) {
  uint8_t nh = pkt[IPV6_OFF_NEXT_HDR];
  size_t off = IPV6_HDR_LEN;
  while (off < iphl) {
    if (nh != IPV6_NH_HOPOPTS && nh != IPV6_NH_DSTOPTS) return 0;
    if (off + IPV6_EXT_UNIT > iphl) return 0;
    nh = pkt[off];
    off += ((size_t)pkt[off + 1] + 1) * IPV6_EXT_UNIT;
  }
  return off == iphl;
}

int iro_gso_parse(const iro_vnet *h, const uint8_t *pkt, size_t len, iro_gso *g) {
  const uint8_t type = h->gso_type & (uint8_t)~VNET_GSO_ECN;
  const int version = len >= IPV4_HDR_MIN ? pkt[0] >> 4 : 0;
  int tcp;
  if (type == VNET_GSO_TCPV4 && version == 4) tcp = 1;
  else if (type == VNET_GSO_TCPV6 && version == 6) tcp = 1;
  else if (type == VNET_GSO_UDP_L4 && (version == 4 || version == 6)) tcp = 0;
  else return 0;
  const uint8_t proto = tcp ? IPPROTO_TCP : IPPROTO_UDP;
  size_t iphl;
  if (version == 4) {
    iphl = (size_t)(pkt[0] & 0x0f) * 4;
    if (iphl < IPV4_HDR_MIN || pkt[IPV4_OFF_PROTO] != proto) return 0;
  } else {
    if (len < IPV6_HDR_LEN) return 0;
    iphl = (h->flags & VNET_F_NEEDS_CSUM) ? h->csum_start : IPV6_HDR_LEN;
    if (iphl < IPV6_HDR_LEN || iphl > len) return 0;
    if (iphl == IPV6_HDR_LEN ? pkt[IPV6_OFF_NEXT_HDR] != proto : !ipv6_ext_plain(pkt, iphl)) return 0;
  }
  if ((h->flags & VNET_F_NEEDS_CSUM) &&
      (h->csum_start != iphl || h->csum_offset != (tcp ? TCP_OFF_CHECKSUM : UDP_OFF_CHECKSUM))) {
    return 0;
  }
  size_t thl = UDP_HDR_LEN;
  if (tcp) {
    if (len < iphl + TCP_HDR_MIN) return 0;
    thl = (size_t)(pkt[iphl + TCP_OFF_DOFF] >> 4) * 4;
    if (thl < TCP_HDR_MIN) return 0;
  }
  if (h->gso_size == 0 || len <= iphl + thl) return 0;
  g->iphl = (uint32_t)iphl;
  g->hlen = (uint32_t)(iphl + thl);
  g->mss = h->gso_size;
  g->segs = (uint32_t)((len - g->hlen + g->mss - 1) / g->mss);
  g->v6 = version == 6;
  g->tcp = (uint8_t)tcp;
  return 1;
}

uint32_t iro_gso_split(const iro_gso *g, const uint8_t *pkt, size_t len, uint32_t first, iro_slots *s, uint32_t *n) {
  const uint32_t seq0 = g->tcp ? rd32(pkt + g->iphl + TCP_OFF_SEQ) : 0;
  const uint16_t id0 = g->v6 ? 0 : rd16(pkt + IPV4_OFF_ID);
  const uint8_t proto = g->tcp ? IPPROTO_TCP : IPPROTO_UDP;
  uint32_t done = 0;
  for (uint32_t i = first; i < g->segs && *n < s->max; i++, done++) {
    const size_t at = g->hlen + (size_t)i * g->mss;
    const size_t plen = len - at < g->mss ? len - at : g->mss;
    const size_t total = g->hlen + plen;
    uint8_t *o = s->data + (size_t)*n * s->slot + s->headroom;
    memcpy(o, pkt, g->hlen);
    memcpy(o + g->hlen, pkt + at, plen);
    if (g->v6) {
      wr16(o + IPV6_OFF_PAYLOAD_LEN, (uint32_t)(total - IPV6_HDR_LEN));
    } else {
      wr16(o + IPV4_OFF_TOTAL_LEN, (uint32_t)total);
      wr16(o + IPV4_OFF_ID, (uint16_t)(id0 + i));
      ipv4_fill_checksum(o, g->iphl);
    }
    uint8_t *th = o + g->iphl;
    size_t check_at;
    if (g->tcp) {
      wr32(th + TCP_OFF_SEQ, seq0 + i * g->mss);
      if (i + 1 < g->segs) th[TCP_OFF_FLAGS] &= (uint8_t)~(TCP_FIN | TCP_PSH);
      if (i > 0) th[TCP_OFF_FLAGS] &= (uint8_t)~TCP_CWR;
      check_at = TCP_OFF_CHECKSUM;
    } else {
      wr16(th + UDP_OFF_LEN, (uint32_t)(total - g->iphl));
      check_at = UDP_OFF_CHECKSUM;
    }
    th[check_at] = 0;
    th[check_at + 1] = 0;
    const uint32_t l4len = (uint32_t)(total - g->iphl);
    uint16_t c = (uint16_t)~csum_fold(csum_add(pseudo_sum(o, g->v6, proto, l4len), th, l4len));
    /* RFC 768: a computed UDP checksum of zero is sent as all ones (zero means "none"). */
    if (!g->tcp && c == 0) c = 0xffff;
    csum_store(th + check_at, c);
    s->offset[*n] = (uint32_t)(o - s->data);
    s->length[*n] = (uint32_t)total;
    (*n)++;
  }
  return done;
}

int iro_csum_complete(uint8_t *pkt, size_t len, size_t start, size_t offset) {
  if (start >= len || offset + 2 > len - start) return 0;
  uint16_t c = (uint16_t)~csum_fold(csum_add(0, pkt + start, len - start));
  /* skb_checksum_help: a result of zero is stored as CSUM_MANGLED_0 (all ones). */
  csum_store(pkt + start + offset, c == 0 ? 0xffff : c);
  return 1;
}

/* ---- coalescing (write side) ---- */

enum { PK_OTHER, PK_TCP, PK_CANDIDATE };

typedef struct {
  uint32_t payload;
  uint32_t seq;
  uint8_t iphl, thl, v6, flags;
} tcp_info;

/* PK_CANDIDATE: a TCP segment that may be coalesced (no IPv4 options or fragments, no IPv6
 * extension headers, lengths consistent, only ACK or ACK|PSH, some payload). PK_TCP: another
 * packet of a TCP flow (its addresses and ports are readable). PK_OTHER: anything else. */
static int classify(const uint8_t *p, size_t len, tcp_info *t) {
  if (len < IPV4_HDR_MIN) return PK_OTHER;
  int consistent;
  if (p[0] >> 4 == 4) {
    const size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < IPV4_HDR_MIN || p[IPV4_OFF_PROTO] != IPPROTO_TCP || len < ihl + TCP_HDR_MIN) return PK_OTHER;
    /* A later fragment carries no TCP header. */
    if ((rd16(p + IPV4_OFF_FLAGS) & IPV4_FRAG_MASK) != 0) return PK_OTHER;
    t->v6 = 0;
    t->iphl = (uint8_t)ihl;
    consistent = ihl == IPV4_HDR_MIN && rd16(p + IPV4_OFF_TOTAL_LEN) == len &&
                 (rd16(p + IPV4_OFF_FLAGS) & IPV4_MF_FRAG_MASK) == 0;
  } else if (p[0] >> 4 == 6) {
    if (len < IPV6_HDR_LEN + TCP_HDR_MIN || p[IPV6_OFF_NEXT_HDR] != IPPROTO_TCP) return PK_OTHER;
    t->v6 = 1;
    t->iphl = IPV6_HDR_LEN;
    consistent = (size_t)rd16(p + IPV6_OFF_PAYLOAD_LEN) + IPV6_HDR_LEN == len;
  } else {
    return PK_OTHER;
  }
  const uint8_t *th = p + t->iphl;
  const size_t thl = (size_t)(th[TCP_OFF_DOFF] >> 4) * 4;
  if (!consistent || thl < TCP_HDR_MIN || t->iphl + thl >= len) return PK_TCP;
  t->thl = (uint8_t)thl;
  t->flags = th[TCP_OFF_FLAGS];
  t->payload = (uint32_t)(len - t->iphl - thl);
  t->seq = rd32(th + TCP_OFF_SEQ);
  return t->flags == TCP_ACK || t->flags == (TCP_ACK | TCP_PSH) ? PK_CANDIDATE : PK_TCP;
}

/* Same addresses and ports (p's headers described by t, q's by its unit). */
static int same_flow(const uint8_t *p, const tcp_info *t, const uint8_t *q, const iro_unit *u) {
  if (t->v6 != u->v6) return 0;
  const int addr_equal = t->v6 ? memcmp(p + IPV6_OFF_SRC, q + IPV6_OFF_SRC, 32) == 0
                               : memcmp(p + IPV4_OFF_SRC, q + IPV4_OFF_SRC, 8) == 0;
  return addr_equal && memcmp(p + t->iphl, q + u->iphl, 4) == 0;
}

/* tcp_gro_receive's conditions for appending segment p to unit u (whose head is h). */
static int can_append(const iro_unit *u, const uint8_t *h, const uint8_t *p, const tcp_info *t) {
  if (t->iphl != u->iphl || t->thl != u->thl) return 0;
  if (t->v6) {
    /* Version, traffic class, flow label; hop limit. */
    if (memcmp(h, p, 4) != 0 || h[IPV6_OFF_HOP_LIMIT] != p[IPV6_OFF_HOP_LIMIT]) return 0;
  } else if (h[IPV4_OFF_TOS] != p[IPV4_OFF_TOS] || h[IPV4_OFF_TTL] != p[IPV4_OFF_TTL] ||
             (h[IPV4_OFF_FLAGS] & IPV4_FLAGS_MASK) != (p[IPV4_OFF_FLAGS] & IPV4_FLAGS_MASK)) {
    return 0;
  }
  const uint8_t *ht = h + u->iphl, *pt = p + t->iphl;
  if (memcmp(ht + TCP_OFF_ACK, pt + TCP_OFF_ACK, 4) != 0 || memcmp(ht + TCP_OFF_WINDOW, pt + TCP_OFF_WINDOW, 2) != 0 ||
      memcmp(ht + TCP_OFF_URGENT, pt + TCP_OFF_URGENT, 2) != 0 ||
      memcmp(ht + TCP_HDR_MIN, pt + TCP_HDR_MIN, (size_t)t->thl - TCP_HDR_MIN) != 0) {
    return 0;
  }
  return t->seq == u->next_seq && u->bytes == u->segs * u->mss && t->payload <= u->mss &&
         u->segs < IRO_COALESCE_MAX_SEGS && (uint32_t)u->iphl + u->thl + u->bytes + t->payload <= IP_MAX_TOTAL;
}

/* The packet's IPv4 header checksum (if any) and TCP checksum verify. */
static int checksums_valid(const uint8_t *p, size_t len, uint8_t iphl, uint8_t v6) {
  if (!v6 && csum_fold(csum_add(0, p, iphl)) != 0xffff) return 0;
  const uint32_t l4len = (uint32_t)(len - iphl);
  return csum_fold(csum_add(pseudo_sum(p, v6, IPPROTO_TCP, l4len), p + iphl, l4len)) == 0xffff;
}

typedef struct {
  uint32_t ids[COALESCE_OPEN_MAX];
  uint32_t n;
} open_list;

static void open_remove(open_list *o, iro_unit *units, uint32_t k) {
  units[o->ids[k]].open = 0;
  memmove(o->ids + k, o->ids + k + 1, (o->n - k - 1) * sizeof o->ids[0]);
  o->n--;
}

uint32_t iro_coalesce_plan(const uint8_t *data, const uint32_t *offset, const uint32_t *length,
                           const uint8_t *status, uint32_t start, uint32_t end, iro_unit *units, uint32_t *link) {
  open_list open = {.n = 0};
  uint32_t nu = 0;
  for (uint32_t i = start; i < end; i++) {
    link[i - start] = UINT32_MAX;
    if (status[i] != 0) continue;
    const uint8_t *p = data + offset[i];
    const size_t len = length[i];
    tcp_info t;
    const int kind = classify(p, len, &t);
    uint8_t known_bad = 0;
    if (kind != PK_OTHER) {
      for (uint32_t k = 0; k < open.n; k++) {
        iro_unit *u = &units[open.ids[k]];
        const uint8_t *h = data + offset[u->head];
        if (!same_flow(p, &t, h, u)) continue;
        if (kind == PK_CANDIDATE && can_append(u, h, p, &t)) {
          if (!u->verified) u->verified = checksums_valid(h, length[u->head], u->iphl, u->v6) ? 1 : 2;
          if (u->verified == 1 && checksums_valid(p, len, t.iphl, t.v6)) {
            link[u->tail - start] = i;
            u->tail = i;
            u->segs++;
            u->bytes += t.payload;
            u->next_seq += t.payload;
            if (t.flags & TCP_PSH) {
              u->psh = 1;
              open_remove(&open, units, k);
            }
            goto next;
          }
          known_bad = u->verified == 1;
        }
        /* The flow's unit takes nothing that comes after this packet, so order is kept. */
        open_remove(&open, units, k);
        break;
      }
    }
    {
      iro_unit *u = &units[nu++];
      memset(u, 0, sizeof *u);
      u->head = u->tail = i;
      u->segs = 1;
      if (kind == PK_CANDIDATE) {
        u->bytes = t.payload;
        u->mss = (uint16_t)t.payload;
        u->next_seq = t.seq + t.payload;
        u->iphl = t.iphl;
        u->thl = t.thl;
        u->v6 = t.v6;
        u->psh = (t.flags & TCP_PSH) != 0;
        u->verified = known_bad ? 2 : 0;
        u->open = !u->psh && !known_bad;
        if (u->open) {
          if (open.n == COALESCE_OPEN_MAX) open_remove(&open, units, 0);
          open.ids[open.n++] = nu - 1;
        }
      }
    }
  next:;
  }
  return nu;
}

void iro_coalesce_headers(const iro_unit *u, const uint8_t *head, uint8_t *vnet, uint8_t *hdr) {
  const uint32_t hlen = (uint32_t)u->iphl + u->thl;
  const uint32_t total = hlen + u->bytes;
  memcpy(hdr, head, hlen);
  if (u->v6) {
    wr16(hdr + IPV6_OFF_PAYLOAD_LEN, total - IPV6_HDR_LEN);
  } else {
    wr16(hdr + IPV4_OFF_TOTAL_LEN, total);
    ipv4_fill_checksum(hdr, u->iphl);
  }
  uint8_t *th = hdr + u->iphl;
  if (u->psh) th[TCP_OFF_FLAGS] |= TCP_PSH;
  /* VIRTIO_NET_HDR_F_NEEDS_CSUM: the field holds the pseudo-header sum over the whole TCP
   * length (not inverted); the stack, or the segmentation of a forwarded packet
   * (tcp_gso_segment), completes it per segment. */
  csum_store(th + TCP_OFF_CHECKSUM, csum_fold(pseudo_sum(hdr, u->v6, IPPROTO_TCP, total - u->iphl)));
  const iro_vnet h = {
      .flags = VNET_F_NEEDS_CSUM,
      .gso_type = u->v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4,
      .hdr_len = (uint16_t)hlen,
      .gso_size = u->mss,
      .csum_start = u->iphl,
      .csum_offset = TCP_OFF_CHECKSUM,
  };
  iro_vnet_encode(&h, vnet);
}

/* ---- counters ---- */

static _Atomic uint64_t counters[IRO_OFL_COUNT];

void iro_count_offload(iro_offload_counter c, uint64_t n) {
  atomic_fetch_add_explicit(&counters[c], n, memory_order_relaxed);
}

static const char *const COUNTER_NAMES[IRO_OFL_COUNT] = {
    [IRO_OFL_TUN_GSO_READS] = "tunGsoReads",
    [IRO_OFL_TUN_GSO_SEGMENTS] = "tunGsoSegments",
    [IRO_OFL_TUN_CSUM_COMPLETED] = "tunChecksumsCompleted",
    [IRO_OFL_TUN_READ_DISCARDS] = "tunReadDiscards",
    [IRO_OFL_TUN_GSO_WRITES] = "tunGsoWrites",
    [IRO_OFL_TUN_GSO_WRITE_SEGS] = "tunGsoWriteSegments",
    [IRO_OFL_TUN_GSO_REFUSED] = "tunGsoRefused",
    [IRO_OFL_UDP_GSO_SENDS] = "udpGsoSends",
    [IRO_OFL_UDP_GSO_SEGMENTS] = "udpGsoSegments",
    [IRO_OFL_UDP_GSO_REFUSED] = "udpGsoRefused",
    [IRO_OFL_UDP_GRO_READS] = "udpGroReads",
    [IRO_OFL_UDP_GRO_SEGMENTS] = "udpGroSegments",
};

/* offloadCounters() -> { name: count, ... } */
static napi_value js_offload_counters(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, v;
  IRO_NAPI(env, napi_create_object(env, &result));
  for (int c = 0; c < IRO_OFL_COUNT; c++) {
    IRO_NAPI(env, napi_create_double(env, (double)atomic_load_explicit(&counters[c], memory_order_relaxed), &v));
    IRO_NAPI(env, napi_set_named_property(env, result, COUNTER_NAMES[c], v));
  }
  return result;
}

/* ---- the same code on caller-supplied bytes, for tests ---- */

/* offloadSplit(frame, data, offset, length, slotSize, headroom, tailroom, max) -> count
 * `frame` is what one read of a TUN with IFF_VNET_HDR returns: virtio header, then the packet.
 * Returns the packets placed in the slots (0 when the frame is unusable or does not fit). */
static napi_value js_offload_split(napi_env env, napi_callback_info info) {
  napi_value argv[8], result;
  int64_t slot, headroom, tailroom, max;
  uint8_t *frame, *data;
  uint32_t *offset, *length;
  size_t frame_len, data_len, n_off, n_len;
  if (!iro_args(env, info, 8, argv) ||
      !iro_get_typed(env, argv[0], "frame", napi_uint8_array, IRO_VNET_HDR_LEN, (void **)&frame, &frame_len) ||
      !iro_get_int(env, argv[4], "slotSize", 1, IRO_MAX_SLOT, &slot) ||
      !iro_get_int(env, argv[5], "headroom", 0, slot - 1, &headroom) ||
      !iro_get_int(env, argv[6], "tailroom", 0, slot - headroom - 1, &tailroom) ||
      !iro_get_int(env, argv[7], "max", 0, IRO_MAX_BATCH, &max) ||
      !iro_get_typed(env, argv[1], "data", napi_uint8_array, (size_t)(max * slot), (void **)&data, &data_len) ||
      !iro_get_typed(env, argv[2], "offset", napi_uint32_array, (size_t)max, (void **)&offset, &n_off) ||
      !iro_get_typed(env, argv[3], "length", napi_uint32_array, (size_t)max, (void **)&length, &n_len)) {
    return NULL;
  }
  iro_slots s = {data, offset, length, (size_t)slot, (size_t)headroom, (size_t)(slot - headroom - tailroom), (uint32_t)max};
  iro_vnet h;
  iro_vnet_decode(frame, &h);
  uint8_t *pkt = frame + IRO_VNET_HDR_LEN;
  const size_t len = frame_len - IRO_VNET_HDR_LEN;
  uint32_t n = 0;
  if (h.gso_type != VNET_GSO_NONE) {
    iro_gso g;
    if (iro_gso_parse(&h, pkt, len, &g) && g.hlen + g.mss <= s.cap) iro_gso_split(&g, pkt, len, 0, &s, &n);
  } else if (len <= s.cap && max > 0 &&
             (!(h.flags & VNET_F_NEEDS_CSUM) || iro_csum_complete(pkt, len, h.csum_start, h.csum_offset))) {
    memcpy(data + (size_t)headroom, pkt, len);
    offset[0] = (uint32_t)headroom;
    length[0] = (uint32_t)len;
    n = 1;
  }
  IRO_NAPI(env, napi_create_uint32(env, n, &result));
  return result;
}

/* offloadCoalesce(data, offset, length, status, count, out, outLength) -> frames
 * Writes the frames tunWriteVnet would write for packets 0..count-1 (status 0; count at most
 * IRO_COALESCE_CHUNK, one plan): each a virtio header then the packet, one after the other in
 * `out`, their sizes in `outLength`. */
static napi_value js_offload_coalesce(napi_env env, napi_callback_info info) {
  napi_value argv[7], result;
  int64_t count;
  uint8_t *data, *status, *out;
  uint32_t *offset, *length, *out_len;
  size_t data_len, n_off, n_len, n_st, out_cap, n_out;
  if (!iro_args(env, info, 7, argv) || !iro_get_int(env, argv[4], "count", 0, IRO_COALESCE_CHUNK, &count) ||
      !iro_get_typed(env, argv[0], "data", napi_uint8_array, 0, (void **)&data, &data_len) ||
      !iro_get_typed(env, argv[1], "offset", napi_uint32_array, (size_t)count, (void **)&offset, &n_off) ||
      !iro_get_typed(env, argv[2], "length", napi_uint32_array, (size_t)count, (void **)&length, &n_len) ||
      !iro_get_typed(env, argv[3], "status", napi_uint8_array, (size_t)count, (void **)&status, &n_st) ||
      !iro_get_typed(env, argv[5], "out", napi_uint8_array, 0, (void **)&out, &out_cap) ||
      !iro_get_typed(env, argv[6], "outLength", napi_uint32_array, (size_t)count, (void **)&out_len, &n_out)) {
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
  const uint32_t nu = iro_coalesce_plan(data, offset, length, status, 0, (uint32_t)count, units, link);
  size_t at = 0;
  for (uint32_t k = 0; k < nu; k++) {
    const iro_unit *u = &units[k];
    const uint32_t hlen = (uint32_t)u->iphl + u->thl;
    const size_t need = IRO_VNET_HDR_LEN + (u->segs > 1 ? hlen + u->bytes : length[u->head]);
    if (at + need > out_cap) {
      iro_throw_range(env, "out is too small");
      return NULL;
    }
    uint8_t *f = out + at;
    if (u->segs == 1) {
      memset(f, 0, IRO_VNET_HDR_LEN);
      memcpy(f + IRO_VNET_HDR_LEN, data + offset[u->head], length[u->head]);
    } else {
      iro_coalesce_headers(u, data + offset[u->head], f, f + IRO_VNET_HDR_LEN);
      size_t w = IRO_VNET_HDR_LEN + hlen;
      for (uint32_t i = u->head; i != UINT32_MAX; i = link[i]) {
        memcpy(f + w, data + offset[i] + hlen, length[i] - hlen);
        w += length[i] - hlen;
      }
    }
    out_len[k] = (uint32_t)need;
    at += need;
  }
  IRO_NAPI(env, napi_create_uint32(env, nu, &result));
  return result;
}

int iro_init_offload(napi_env env, napi_value exports) {
  return iro_export(env, exports, "offloadCounters", js_offload_counters) &&
         iro_export(env, exports, "offloadSplit", js_offload_split) &&
         iro_export(env, exports, "offloadCoalesce", js_offload_coalesce);
}
