#!/usr/bin/python3
"""ESP with Scapy (Debian's python3-scapy 2.5), for iro's interop tests (scapy.test.ts).

Reads a JSON list of jobs on stdin and writes a JSON list of results on stdout, one per job:
  {"op": "decrypt", "algo", "keymat", "spi", "esn", "seq_hi", "esp"}   (hex strings, ints, bool)
      -> {"inner": hex of the packet tunnel-mode decryption returns,
          "data": hex of the ESP payload, "nh", "padlen"}
  {"op": "encrypt", "algo", "keymat", "spi", "esn", "seq_hi", "seq", "inner"}
      -> {"esp": hex of the ESP packet (SPI onwards)}
A job that fails gives {"error": "..."}. Tunnel mode, outer IPv4 192.0.2.1 -> 192.0.2.2.
Scapy's own gaps (LAB.md): a seq_num of 0 counts as unset, so jobs never use low bits 0; its
decrypt() slices the padding after cutting it off, so pad bytes are checked on iro's side only.
"""
import json
import sys

from scapy.all import IP, Raw, raw
from scapy.layers.ipsec import ESP, SecurityAssociation

OUTER = dict(src="192.0.2.1", dst="192.0.2.2")


def sa_for(job):
    return SecurityAssociation(
        ESP,
        spi=job["spi"],
        crypt_algo=job["algo"],
        crypt_key=bytes.fromhex(job["keymat"]),
        tunnel_header=IP(**OUTER),
        esn_en=job["esn"],
        esn=job["seq_hi"],
    )


def outer_packet(esp_hex):
    return IP(raw(IP(proto=50, **OUTER) / Raw(bytes.fromhex(esp_hex))))


def decrypt(job):
    sa = sa_for(job)
    esp = outer_packet(job["esp"])[ESP]
    plain = sa.crypt_algo.decrypt(
        sa, esp, sa.crypt_key, sa.crypt_algo.icv_size, esn_en=job["esn"], esn=job["seq_hi"]
    )
    inner = sa.decrypt(outer_packet(job["esp"]))
    return {
        "inner": raw(inner).hex(),
        "data": bytes(plain.data).hex(),
        "nh": plain.nh,
        "padlen": plain.padlen,
    }


def encrypt(job):
    sa = sa_for(job)
    packet = sa.encrypt(IP(bytes.fromhex(job["inner"])), seq_num=job["seq"])
    return {"esp": raw(packet[ESP]).hex()}


def main():
    results = []
    for job in json.load(sys.stdin):
        try:
            results.append(decrypt(job) if job["op"] == "decrypt" else encrypt(job))
        except Exception as err:  # reported per job, so one failure does not hide the others
            results.append({"error": "%s: %s" % (type(err).__name__, err)})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
