/**
 * Crafted ESP packets sent from a namespace, to check that a receiver drops each for its reason:
 *   random-spi  an SPI no SA has (-> no_sa)
 *   bad-icv     a packet sealed with the right SA by Scapy, then one ICV bit flipped (-> auth_failed)
 *   replay      a packet taken verbatim from a capture and sent again (-> replay)
 * Built with Debian's Scapy (`/usr/bin/python3`, python3-scapy; an ESP implementation nobody here
 * wrote) and sent with plain sockets: UDP to the target port for ESP-in-UDP (RFC 3948), or a raw
 * protocol-50 socket for bare ESP (the kernel builds the outer IP header from the injecting
 * namespace's own address). The Python program is embedded below and fed its job as JSON on stdin.
 *
 * Scapy's limits (LAB.md): a sequence number of 0 counts as unset, so `seq` must be >= 1.
 */
import { IroError } from '../util/errors.js';
import type { Netns } from './lab.js';

export const PYTHON = '/usr/bin/python3';
const INJECT_TIMEOUT_MS = 60_000;

/** Scapy's names (scapy.layers.ipsec.CRYPT_ALGOS) for iro's ciphers; the key length picks the AES size. */
export const SCAPY_ALGORITHMS: Readonly<Record<string, string>> = {
  aes128gcm16: 'AES-GCM',
  aes192gcm16: 'AES-GCM',
  aes256gcm16: 'AES-GCM',
  chacha20poly1305: 'CHACHA20-POLY1305',
};

/** Where the packets go: `port` null sends bare ESP (IP protocol 50). */
export interface InjectTarget {
  readonly address: string;
  readonly port: number | null;
}

export type InjectJob =
  | {
      readonly kind: 'random-spi';
      /** Default: random in 0x80000000..0xfffffffe. */
      readonly spi?: number;
      readonly count?: number;
    }
  | {
      readonly kind: 'bad-icv';
      readonly spi: number;
      /** Sequence number of the first packet (>= 1); the next ones count up. */
      readonly seq: number;
      readonly cipher: string;
      /** KEYMAT = key || salt of the SA the receiver holds for `spi`. */
      readonly keymat: Uint8Array;
      readonly esn?: boolean;
      /** High 32 bits of the sequence number when `esn`. */
      readonly seqHi?: number;
      /** Addresses of the inner (tunnel-mode) packet: IPv4 or IPv6. */
      readonly innerSrc: string;
      readonly innerDst: string;
      readonly count?: number;
    }
  | {
      readonly kind: 'replay';
      /** A full-length capture (tcpdump without -s) holding ESP packets of `spi`. */
      readonly pcap: string;
      readonly spi: number;
      /** Which captured packet to resend (default 'last', the most recent). */
      readonly pick?: 'first' | 'last';
      readonly count?: number;
    };

/** One packet sent. */
export interface Injected {
  readonly kind: InjectJob['kind'];
  readonly spi: number;
  readonly seq: number;
  /** ESP bytes sent (SPI onwards). */
  readonly bytes: number;
}

const SCRIPT = String.raw`
import json, os, socket, struct, sys

def random_spi(job):
    spi = job.get("spi")
    out = []
    for _ in range(job.get("count", 1)):
        s = spi if spi is not None else 0x80000000 + struct.unpack("!I", os.urandom(4))[0] % 0x7fffffff
        out.append(struct.pack("!II", s, 1) + os.urandom(64))
    return out

def bad_icv(job):
    from scapy.all import IP, IPv6, ICMP, Raw, raw
    from scapy.layers.inet6 import ICMPv6EchoRequest
    from scapy.layers.ipsec import ESP, SecurityAssociation
    v6 = ":" in job["innerSrc"]
    sa = SecurityAssociation(
        ESP, spi=job["spi"], crypt_algo=job["algo"], crypt_key=bytes.fromhex(job["keymat"]),
        tunnel_header=IPv6(src="2001:db8::1", dst="2001:db8::2") if v6 else IP(src="192.0.2.1", dst="192.0.2.2"),
        esn_en=job.get("esn", False), esn=job.get("seqHi", 0))
    out = []
    for i in range(job.get("count", 1)):
        if v6:
            inner = IPv6(src=job["innerSrc"], dst=job["innerDst"]) / ICMPv6EchoRequest() / Raw(b"iro-lab bad icv")
        else:
            inner = IP(src=job["innerSrc"], dst=job["innerDst"]) / ICMP() / Raw(b"iro-lab bad icv")
        esp = bytearray(raw(sa.encrypt(inner, seq_num=job["seq"] + i)[ESP]))
        esp[-1] ^= 0x01
        out.append(bytes(esp))
    return out

def replay(job):
    from scapy.all import IP, IPv6, UDP, rdpcap, raw
    found = []
    for p in rdpcap(job["pcap"]):
        wirelen = getattr(p, "wirelen", None)
        if wirelen and wirelen > len(raw(p)):
            continue
        if UDP in p:
            payload = bytes(p[UDP].payload)
        elif IP in p and p[IP].proto == 50:
            payload = bytes(p[IP].payload)
        elif IPv6 in p and p[IPv6].nh == 50:
            payload = bytes(p[IPv6].payload)
        else:
            continue
        if len(payload) >= 8 and struct.unpack("!I", payload[:4])[0] == job["spi"]:
            found.append(payload)
    if not found:
        raise ValueError("no full-length ESP packet with SPI 0x%08x in %s" % (job["spi"], job["pcap"]))
    chosen = found[0] if job.get("pick") == "first" else found[-1]
    return [chosen] * job.get("count", 1)

def main():
    spec = json.load(sys.stdin)
    target = spec["target"]
    family = socket.AF_INET6 if ":" in target["address"] else socket.AF_INET
    if target["port"] is None:
        sock = socket.socket(family, socket.SOCK_RAW, 50)
        dest = (target["address"], 0)
    else:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        dest = (target["address"], target["port"])
    makers = {"random-spi": random_spi, "bad-icv": bad_icv, "replay": replay}
    sent = []
    for job in spec["jobs"]:
        for esp in makers[job["kind"]](job):
            sock.sendto(esp, dest)
            spi, seq = struct.unpack("!II", esp[:8])
            sent.append({"kind": job["kind"], "spi": spi, "seq": seq, "bytes": len(esp)})
    json.dump(sent, sys.stdout)

main()
`;

function toWire(job: InjectJob): Record<string, unknown> {
  if (job.kind !== 'bad-icv') return { ...job };
  const algo = SCAPY_ALGORITHMS[job.cipher];
  if (algo === undefined) throw new RangeError(`job.cipher ${JSON.stringify(job.cipher)} is not one of ${Object.keys(SCAPY_ALGORITHMS).join(', ')}`);
  if (!Number.isInteger(job.seq) || job.seq < 1) throw new RangeError(`job.seq must be an integer >= 1 (Scapy treats 0 as unset), got ${job.seq}`);
  const { keymat, cipher: _cipher, ...rest } = job;
  return { ...rest, algo, keymat: Buffer.from(keymat.buffer, keymat.byteOffset, keymat.byteLength).toString('hex') };
}

/**
 * Sends the packets of `jobs`, in order, from `from` to `target`. Resolves with what was sent;
 * rejects with IroError 'ERR_IO' when Scapy fails (the message carries its traceback).
 */
export async function inject(from: Netns, target: InjectTarget, jobs: readonly InjectJob[]): Promise<Injected[]> {
  const spec = { target, jobs: jobs.map(toWire) };
  const r = await from.exec(PYTHON, ['-c', SCRIPT], { input: JSON.stringify(spec), timeoutMs: INJECT_TIMEOUT_MS, allowFailure: true });
  if (r.status !== 0) {
    throw new IroError('ERR_IO', `injecting from ${from.name} failed (exit ${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-8).join('\n')}`);
  }
  return JSON.parse(r.stdout) as Injected[];
}
