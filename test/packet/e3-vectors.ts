/**
 * PROTOCOL.md E.3 constructed vectors (../shared/docs/PROTOCOL.md, "E.3 Constructed vectors"),
 * copied as printed there. The ESP bytes are opaque payload here: they come from the ESP module's
 * suite, and this module only has to frame them identically in IRO and RFC 3776 form.
 * Addresses: HoA 2001:db8::1, HA 2001:db8::2, CoA 2001:db8:ffff::10.
 */
import { fromHex } from '../../src/util/bytes.js';

/** E.3.1 MH Binding Update, MN -> HA, checksum over HoA -> HA. */
export const E31_BU = fromHex('3b 03 05 00 6e 81 00 01 c0 00 03 84 01 00 03 10 20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10');

/** E.3.1 ESP (68 B) carrying the BU. */
export const E31_ESP = fromHex(`
  00 00 10 01 00 00 00 01 00 00 00 00 00 00 00 01 65 45 ff 91 d5 95 2e 17 ff 87 ae c9 1b 84 f1 f6
  f1 91 5e c5 e4 19 66 ed 9b 4c 25 39 42 f8 b9 4b f6 68 3d 47 9a 60 08 3d ee 32 18 6b 5e 70 4e a4
  cf 09 39 8c`);

/** E.3.1 IRO packet header (40 B before the ESP): src CoA, dst HA, NH 50, no HAO. */
export const E31_IRO_HDR = fromHex(`
  60 00 00 00 00 44 32 40 20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00
  00 00 00 00 00 00 00 02`);

/** E.3.1 RFC 3776 header chain (64 B before the ESP): IPv6 (NH 60) + DestOpt {PadN4, HAO HoA}. */
export const E31_RFC3776_HDR = fromHex(`
  60 00 00 00 00 5c 3c 40 20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10 20 01 0d b8 00 00 00 00
  00 00 00 00 00 00 00 02 32 02 01 02 00 00 c9 10 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01`);

/** E.3.2 MH Binding Acknowledgement, HA -> MN, checksum over HA -> HoA. */
export const E32_BA = fromHex('3b 01 06 00 5e 6b 00 00 00 01 03 84 01 02 00 00');

/** E.3.2 ESP (52 B) carrying the BA. */
export const E32_ESP = fromHex(`
  00 00 20 02 00 00 00 01 00 00 00 00 00 00 00 01 3f 0b 87 c6 7b d1 8c fa 10 ba e4 1e 8c 3b 0f ec
  db 78 ea e4 29 62 41 e2 9b e8 6e be d5 9e 1d f3 b3 c3 0d 75`);

/** E.3.2 IRO header prefix and RFC 3776 header prefix and RH2, as printed (addresses follow). */
export const E32_IRO_HDR_START = fromHex('60 00 00 00 00 34 32 40');
export const E32_RFC3776_HDR_START = fromHex('60 00 00 00 00 4c 2b 40');
export const E32_RH2_START = fromHex('32 02 02 01 00 00 00 00');
