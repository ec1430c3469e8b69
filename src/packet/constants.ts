/**
 * Wire constants, grouped by origin (STYLE 9). "Specification constants" come from the RFC named
 * in each group; "Implementation constants" are iro's own choices. No bare numbers in packet/.
 */

// ---------------------------------------------------------------------------------------------
// Specification constants

/** RFC 1071: the Internet checksum adds 16-bit words; every checksum field is one word. */
export const INET_WORD_LEN = 2;

/** IANA protocol numbers used as IPv4 Protocol / IPv6 Next Header. */
export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_IPIP = 4; // IPv4 in IP (tunnel-mode ESP next header)
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41; // IPv6 in IP
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59; // RFC 4303 §2.6: dummy packet
export const IPPROTO_DSTOPTS = 60;
export const IPPROTO_MH = 135; // RFC 6275 §6.1
export const IPPROTO_SCTP = 132; // RFC 9260: carries ports, an RFC 4301 §4.4.1.1 selector

/** IPv4 header (RFC 791). */
export const IPV4_VERSION = 4;
export const IPV4_MIN_HDR_LEN = 20;
export const IPV4_MAX_HDR_LEN = 60;
export const IPV4_OFF_VER_IHL = 0;
export const IPV4_OFF_TOS = 1;
export const IPV4_OFF_TOTAL_LEN = 2;
export const IPV4_OFF_ID = 4;
export const IPV4_OFF_FLAGS_FRAG = 6;
export const IPV4_OFF_TTL = 8;
export const IPV4_OFF_PROTO = 9;
export const IPV4_OFF_CHECKSUM = 10;
export const IPV4_OFF_SRC = 12;
export const IPV4_OFF_DST = 16;
export const IPV4_ADDR_LEN = 4;
export const IPV4_FLAG_RESERVED = 0x8000;
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;
/** Version in the high nibble of byte 0, IHL (in 32-bit words) in the low nibble. */
export const IPV4_VERSION_SHIFT = 4;
export const IPV4_IHL_MASK = 0x0f;
export const IPV4_IHL_UNIT = 4;
/** Fragment offsets count 8-octet blocks (RFC 791 §3.1). */
export const IPV4_FRAG_UNIT = 8;

/** IPv6 header (RFC 8200 §3). */
export const IPV6_VERSION = 6;
export const IPV6_HDR_LEN = 40;
export const IPV6_OFF_VER_TC_FLOW = 0;
export const IPV6_OFF_PAYLOAD_LEN = 4;
export const IPV6_OFF_NEXT_HDR = 6;
export const IPV6_OFF_HOP_LIMIT = 7;
export const IPV6_OFF_SRC = 8;
export const IPV6_OFF_DST = 24;
export const IPV6_ADDR_LEN = 16;
export const IPV6_MIN_MTU = 1280;
/** First 32-bit word: Version(4) | Traffic Class(8) | Flow Label(20). */
export const IPV6_VERSION_SHIFT = 28;
export const IPV6_TC_SHIFT = 20;
export const IPV6_TC_MASK = 0xff;
export const IPV6_FLOW_MASK = 0xfffff;

/** IPv6 extension headers (RFC 8200 §4). Lengths are in 8-octet units not counting the first 8. */
export const IPV6_EXT_UNIT = 8;
export const IPV6_EXT_MIN_LEN = 8;
export const IPV6_EXT_OFF_NEXT_HDR = 0;
export const IPV6_EXT_OFF_LEN = 1;
/** Fragment header (RFC 8200 §4.5): offset in 8-octet units in the top 13 bits, M flag in bit 0. */
export const IPV6_FRAG_HDR_LEN = 8;
export const IPV6_FRAG_OFF_OFFSET = 2;
export const IPV6_FRAG_OFF_ID = 4;
export const IPV6_FRAG_OFFSET_MASK = 0xfff8;
export const IPV6_FRAG_M_FLAG = 0x0001;
/** Routing header (RFC 8200 §4.4). */
export const IPV6_RH_OFF_TYPE = 2;
export const IPV6_RH_OFF_SEG_LEFT = 3;
/** Type 2 Routing Header (RFC 6275 §6.4): HdrExtLen 2, one address, segments left 1. */
export const IPV6_RH_TYPE2 = 2;
export const IPV6_RH2_LEN = 24;
export const IPV6_RH2_HDR_EXT_LEN = 2;
export const IPV6_RH2_SEG_LEFT = 1;
export const IPV6_RH2_OFF_RESERVED = 4;
export const IPV6_RH2_OFF_ADDR = 8;
/** Options inside Hop-by-Hop / Destination Options headers (RFC 8200 §4.2): Type, Length, data. */
export const IPV6_EXT_OFF_OPTIONS = 2; // options begin after Next Header and Hdr Ext Len
export const IPV6_OPT_OFF_TYPE = 0;
export const IPV6_OPT_OFF_LEN = 1;
export const IPV6_OPT_HDR_LEN = 2;
export const IPV6_OPT_PAD1 = 0;
export const IPV6_OPT_PAD1_LEN = 1; // Pad1 is a lone type byte (RFC 8200 §4.2)
export const IPV6_OPT_PADN = 1;
/** Home Address destination option (RFC 6275 §6.3): type 201, length 16, alignment 8n+6. */
export const IPV6_OPT_HOME_ADDRESS = 0xc9;
export const IPV6_OPT_HOME_ADDRESS_LEN = 16;
export const IPV6_HAO_ALIGN = 8;
export const IPV6_HAO_ALIGN_OFFSET = 6;
/** A Destination Options header holding only the HAO (PROTOCOL.md A.6): 2 + PadN 4 + 2 + 16. */
export const IPV6_HAO_DSTOPT_LEN = 24;

/** UDP (RFC 768). */
export const UDP_HDR_LEN = 8;
export const UDP_OFF_SRC_PORT = 0;
export const UDP_OFF_DST_PORT = 2;
export const UDP_OFF_LEN = 4;
export const UDP_OFF_CHECKSUM = 6;

/** RFC 768: a computed checksum of 0 is sent as all ones; 0 on the wire means "no checksum"
 * (IPv4 only: RFC 8200 §8.1 makes it mandatory over IPv6). */
export const UDP_CHECKSUM_NONE = 0;
export const UDP_CHECKSUM_ZERO_AS = 0xffff;

/** TCP (RFC 9293): only what the flow tuple and checksums need. */
export const TCP_MIN_HDR_LEN = 20;
export const TCP_OFF_SRC_PORT = 0;
export const TCP_OFF_DST_PORT = 2;
export const TCP_OFF_CHECKSUM = 16;

/** SCTP common header (RFC 9260 §3.1): ports first, 12 bytes. */
export const SCTP_COMMON_HDR_LEN = 12;

/** ICMP (RFC 792) and ICMPv6 (RFC 4443). */
export const ICMP_HDR_LEN = 8;
export const ICMP_OFF_TYPE = 0;
export const ICMP_OFF_CODE = 1;
export const ICMP_OFF_CHECKSUM = 2;
export const ICMPV4_ECHO_REQUEST = 8;
export const ICMPV4_ECHO_REPLY = 0;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;
export const ICMPV6_PACKET_TOO_BIG = 2;
export const ICMPV4_DEST_UNREACH = 3;

/** ESP (RFC 4303 §2). */
export const ESP_HDR_LEN = 8; // SPI + sequence number
export const ESP_OFF_SPI = 0;
export const ESP_OFF_SEQ = 4;
export const ESP_IV_LEN = 8; // RFC 4106 §3.1, RFC 7634 §2: 8-byte explicit IV
export const ESP_TRAILER_LEN = 2; // pad length + next header
export const ESP_ICV_LEN = 16;
export const ESP_MAX_PAD = 255;
/** RFC 4303 §2.4: pad length and next header end on a 4-byte boundary. */
export const ESP_ALIGN = 4;
/** RFC 4303 §2.1: SPI 0 is reserved for local use, 1-255 by IANA. */
export const ESP_SPI_MIN = 256;

/** UDP encapsulation of ESP (RFC 3948). */
export const NATT_PORT = 4500;
export const NATT_KEEPALIVE_BYTE = 0xff;
export const NATT_NON_ESP_MARKER_LEN = 4;
export const NATT_KEEPALIVE_INTERVAL_S = 20;

/** Mobility Header (RFC 6275 §6.1). */
export const MH_MIN_LEN = 8;
export const MH_UNIT = 8;
/** Header Len is 8 bits of 8-octet units beyond the first 8: at most 256 units. */
export const MH_MAX_LEN = 2048;
export const MH_OFF_PAYLOAD_PROTO = 0;
export const MH_OFF_HDR_LEN = 1;
export const MH_OFF_TYPE = 2;
export const MH_OFF_RESERVED = 3;
export const MH_OFF_CHECKSUM = 4;
export const MH_OFF_DATA = 6;
export const MH_TYPE_BRR = 0;
export const MH_TYPE_HOTI = 1;
export const MH_TYPE_COTI = 2;
export const MH_TYPE_HOT = 3;
export const MH_TYPE_COT = 4;
export const MH_TYPE_BU = 5;
export const MH_TYPE_BA = 6;
export const MH_TYPE_BE = 7;
/** RFC 5096: experimental MH type and mobility option (lab defaults only, PROTOCOL.md F.31). */
export const MH_TYPE_EXPERIMENTAL = 11;
export const MH_OPT_EXPERIMENTAL = 18;

/** Mobility options (RFC 6275 §6.2, RFC 5555 §3.1, §3.2). Type(8) Length(8) Data; Pad1 is one byte. */
export const MH_OPT_OFF_TYPE = 0;
export const MH_OPT_OFF_LEN = 1;
export const MH_OPT_HDR_LEN = 2;
export const MH_OPT_PAD1 = 0;
export const MH_OPT_PAD1_LEN = 1; // Pad1 is a lone type byte (RFC 6275 §6.2.2)
export const MH_OPT_PADN = 1;
export const MH_OPT_BINDING_REFRESH_ADVICE = 2;
export const MH_OPT_ALT_COA = 3;
export const MH_OPT_NONCE_INDICES = 4;
export const MH_OPT_AUTH_DATA = 5;
export const MH_OPT_IPV4_HOME_ADDRESS = 29;
export const MH_OPT_IPV4_ADDRESS_ACK = 30;
export const MH_OPT_NAT_DETECTION = 31;
export const MH_OPT_IPV4_COA = 32;
/** Option data lengths (the Length field) and alignments xn+y (RFC 6275 §6.2 notation). */
export const MH_OPT_BRA_LEN = 2; // RFC 6275 §6.2.4, align 2n
export const MH_OPT_BRA_ALIGN = 2;
export const MH_OPT_ALT_COA_LEN = 16; // RFC 6275 §6.2.5, align 8n+6
export const MH_OPT_ALT_COA_ALIGN = 8;
export const MH_OPT_ALT_COA_ALIGN_OFFSET = 6;
/** RFC 5555 §3.1.1, §3.1.2, §3.2.1, §3.2.2: every IPv4 option carries 6 data bytes (layouts checked
 * against Wireshark's dissector). Alignment 4n puts the 32-bit field on a 4-byte boundary; it is
 * from knowledge of RFC 5555, not re-read (PROTOCOL.md tag [K]). */
export const MH_OPT_IPV4_LEN = 6;
export const MH_OPT_IPV4_ALIGN = 4;
/** Offsets inside the RFC 5555 options, from the option's Type byte. */
export const MH_OPT_IPV4_OFF_FIELD = 2;
export const MH_OPT_IPV4_OFF_ADDR = 4;
export const MH_OPT_NATD_OFF_REFRESH = 4;
/** IPv4 Home Address option: Prefix-len(6) | P(1) | Reserved(9). */
export const MH_IPV4_HOA_PREFIX_SHIFT = 10;
export const MH_IPV4_HOA_FLAG_P = 0x0200;
/** IPv4 Address Acknowledgement option: Status(8), then Pref-len(6) | Reserved(2). */
export const MH_IPV4_ACK_PREFIX_SHIFT = 2;
export const MH_IPV4_PREFIX_MAX = 32;
export const MH_IPV4_PREFIX_MASK = 0x3f;
export const MH_IPV4_ACK_STATUS_SUCCESS = 0;
/** NAT Detection option: F flag (UDP encapsulation required) then Refresh Time (s); all ones means
 * no keepalives are needed. */
export const MH_NATD_FLAG_F = 0x8000;
export const MH_NATD_REFRESH_NONE = 0xffffffff;
/** RFC 5096 §3 gives the Experimental Mobility Option no alignment requirement (1n+0). */
export const MH_OPT_EXPERIMENTAL_ALIGN = 1;
export const MH_OPT_MAX_DATA_LEN = 255;

/** Binding Update (RFC 6275 §6.1.7): 12 bytes from the start of the MH, options follow. */
export const BU_FIXED_LEN = 12;
export const BU_OFF_SEQ = 6;
export const BU_OFF_FLAGS = 8;
export const BU_OFF_LIFETIME = 10;
export const BU_FLAG_A = 0x8000;
export const BU_FLAG_H = 0x4000;
export const BU_FLAG_L = 0x2000;
export const BU_FLAG_K = 0x1000;
export const BU_FLAG_M = 0x0800; // RFC 5380
export const BU_FLAG_R = 0x0400; // RFC 3963
export const BU_FLAG_P = 0x0200; // RFC 5213
/** Binding Acknowledgement (RFC 6275 §6.1.8): 12 bytes from the start of the MH. */
export const BA_FIXED_LEN = 12;
export const BA_OFF_STATUS = 6;
export const BA_OFF_FLAGS = 7;
export const BA_OFF_SEQ = 8;
export const BA_OFF_LIFETIME = 10;
export const BA_FLAG_K = 0x80;
export const BA_FLAG_R = 0x40; // RFC 3963
export const BA_STATUS_ACCEPTED = 0;
export const BA_STATUS_UNSPECIFIED = 128;
export const BA_STATUS_PROHIBITED = 129;
export const BA_STATUS_NOT_HOME_SUBNET = 132;
export const BA_STATUS_NOT_HA_FOR_MN = 133;
export const BA_STATUS_SEQ_OUT_OF_WINDOW = 135;
/** Binding Error (RFC 6275 §6.1.9): 24 bytes from the start of the MH. */
export const BE_FIXED_LEN = 24;
export const BE_OFF_STATUS = 6;
export const BE_OFF_RESERVED = 7;
export const BE_OFF_HOA = 8;
export const BE_STATUS_UNKNOWN_BINDING = 1;
export const BE_STATUS_UNRECOGNIZED_MH = 2;
/** Binding Refresh Request (RFC 6275 §6.1.2): 8 bytes from the start of the MH. */
export const BRR_FIXED_LEN = 8;
/** Experimental Mobility Header (RFC 5096 §2): message data starts right after the checksum. */
export const MH_EXPERIMENTAL_FIXED_LEN = 6;
/** RFC 6275 §9.5.1: sequence numbers compare modulo 2^16 with a window of 2^15. */
export const MH_SEQ_MODULUS = 0x10000;
export const MH_SEQ_WINDOW = 0x8000;
/** RFC 6275 §6.1.7: lifetimes are in units of 4 seconds, 16 bits wide. */
export const MH_LIFETIME_UNIT_S = 4;
export const MH_LIFETIME_MAX_UNITS = 0xffff;

// ---------------------------------------------------------------------------------------------
// Implementation constants

/** Largest packet iro handles in one batch slot (IPv4 total length is 16 bits). */
export const MAX_PACKET_LEN = 65535;
/** Field widths for range checks and byte packing. */
export const BYTE_BITS = 8;
export const U8_MAX = 0xff;
export const U16_MAX = 0xffff;
export const U16_RANGE = 0x10000;
export const U32_MAX = 0xffffffff;

/** TTL / hop limit of headers iro builds itself (the Linux default). */
export const DEFAULT_TTL = 64;
export const DEFAULT_HOP_LIMIT = 64;
