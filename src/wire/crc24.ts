/**
 * CRC24 of frame headers (PROTOCOL.md §3): MSB-first, polynomial 0x1974F0B (25-bit form),
 * init 0x875060, no reflection, no final xor, over the header bytes in wire order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc24 } from "./crc24.ts";
 * // Header of a self-contained 5-byte CRC frame: its CRC24 is stored as `19 99 9a`.
 * assert(crc24(new Uint8Array([0x05, 0x00, 0x02]), 0, 3) === 0x9a9919);
 * ```
 *
 * @module
 */

const CRC24_INIT = 0x875060;
const CRC24_POLY = 0x1974f0b;

const TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 16;
    for (let bit = 0; bit < 8; bit++) {
      crc <<= 1;
      if (crc & 0x100_0000) crc ^= CRC24_POLY;
    }
    table[i] = crc & 0xff_ffff;
  }
  return table;
})();

/** CRC24 of `length` bytes of `buf` starting at `offset`. */
export function crc24(buf: Uint8Array, offset: number, length: number): number {
  let crc = CRC24_INIT;
  for (let i = offset, end = offset + length; i < end; i++) {
    crc = ((crc << 8) ^ TABLE[((crc >>> 16) ^ buf[i]!) & 0xff]!) & 0xff_ffff;
  }
  return crc;
}

/** Bit-at-a-time CRC24, the specification's form; the tests check the table form against it. */
export function crc24Reference(buf: Uint8Array, offset: number, length: number): number {
  let crc = CRC24_INIT;
  for (let i = offset; i < offset + length; i++) {
    crc ^= buf[i]! << 16;
    for (let bit = 0; bit < 8; bit++) {
      crc <<= 1;
      if (crc & 0x100_0000) crc ^= CRC24_POLY;
    }
  }
  return crc & 0xff_ffff;
}
