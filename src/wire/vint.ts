/**
 * Variable-length integers exactly as Cassandra's `VIntCoding` (PROTOCOL.md §2).
 *
 * An unsigned vint is 1–9 bytes: the count of leading 1-bits of the first byte is the count of
 * extra bytes, and the value follows big-endian. Values up to 2^53 use the `number` functions
 * (the hot path); the `Big` variants take the whole unsigned 64-bit range as `bigint`.
 * Signed vints are zigzag-encoded first.
 *
 * Readers come in two shapes: {@link vintLengthAt} is bounded and answers -1 for "need more
 * bytes" (frames arrive in pieces); {@link getUnsignedVint} reads a vint known to be complete.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeUnsignedVint, getUnsignedVint, unsignedVintSize } from "./vint.ts";
 * const buf = new Uint8Array(3);
 * const end = writeUnsignedVint(buf, 0, 16384);
 * assert(end === 3 && unsignedVintSize(16384) === 3);
 * assert(getUnsignedVint(buf, 0) === 16384);
 * ```
 *
 * @module
 */

import { TruncatedInputError, VintOverflowError } from "./errors.ts";

/** Largest encoded size of a vint, in bytes. */
export const MAX_VINT_SIZE = 9;

const TWO_32 = 0x1_0000_0000;
const MAX_U64 = (1n << 64n) - 1n;

/** Encoded size in bytes of `value` (a non-negative safe integer) as an unsigned vint. */
export function unsignedVintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  if (value < 0x1000_0000) return 4;
  if (value < 0x8_0000_0000) return 5;
  if (value < 0x400_0000_0000) return 6;
  if (value < 0x2_0000_0000_0000) return 7;
  return 8; // every safe integer is below 2^56
}

/** Encoded size in bytes of `value` (0 ≤ value < 2^64) as an unsigned vint. */
export function unsignedVintSizeBig(value: bigint): number {
  if (value < 0n || value > MAX_U64) {
    throw new RangeError(`Cannot size vint: ${value} is outside the unsigned 64-bit range`);
  }
  if (value < 0x80n) return 1;
  let size = 2;
  let bound = 1n << 14n;
  while (size < MAX_VINT_SIZE && value >= bound) {
    size++;
    bound <<= 7n;
  }
  return size;
}

/** Number of extra bytes announced by a vint's first byte (its count of leading 1-bits). */
export function vintExtraBytes(firstByte: number): number {
  return firstByte === 0xff ? 8 : Math.clz32((~firstByte & 0xff) << 24);
}

/**
 * Total encoded length of the vint starting at `offset`, or -1 when `buf` holds fewer than that
 * many bytes before `limit` (the caller must wait for more input).
 */
export function vintLengthAt(buf: Uint8Array, offset: number, limit: number = buf.length): number {
  if (offset >= limit) return -1;
  const first = buf[offset]!;
  if (first < 0x80) return 1;
  const length = 1 + vintExtraBytes(first);
  return offset + length <= limit ? length : -1;
}

/**
 * Writes `value` (a non-negative safe integer) as an unsigned vint at `offset`.
 * @returns the offset just past the written bytes
 */
export function writeUnsignedVint(buf: Uint8Array, offset: number, value: number): number {
  if (value < 0x80) {
    if (!(value >= 0)) throw new RangeError(`Cannot write vint: ${value} is negative or NaN`);
    buf[offset] = value;
    return offset + 1;
  }
  if (value < 0x4000) {
    buf[offset] = 0x80 | (value >>> 8);
    buf[offset + 1] = value & 0xff;
    return offset + 2;
  }
  if (value < 0x20_0000) {
    buf[offset] = 0xc0 | (value >>> 16);
    buf[offset + 1] = (value >>> 8) & 0xff;
    buf[offset + 2] = value & 0xff;
    return offset + 3;
  }
  if (value < 0x1000_0000) {
    buf[offset] = 0xe0 | (value >>> 24);
    buf[offset + 1] = (value >>> 16) & 0xff;
    buf[offset + 2] = (value >>> 8) & 0xff;
    buf[offset + 3] = value & 0xff;
    return offset + 4;
  }
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`Cannot write vint: ${value} is not a safe integer; use the bigint form`);
  }
  const size = unsignedVintSize(value);
  const extra = size - 1;
  let lo = value % TWO_32;
  let hi = (value - lo) / TWO_32;
  // Low four bytes, then the high part; the first byte gets the length prefix.
  for (let i = size - 1; i >= size - 4; i--) {
    buf[offset + i] = lo & 0xff;
    lo >>>= 8;
  }
  for (let i = size - 5; i >= 0; i--) {
    buf[offset + i] = hi & 0xff;
    hi >>>= 8;
  }
  buf[offset] = buf[offset]! | (~(0xff >> extra) & 0xff);
  return offset + size;
}

/**
 * Writes `value` (0 ≤ value < 2^64) as an unsigned vint at `offset`.
 * @returns the offset just past the written bytes
 */
export function writeUnsignedVintBig(buf: Uint8Array, offset: number, value: bigint): number {
  const size = unsignedVintSizeBig(value);
  const extra = size - 1;
  let v = value;
  for (let i = size - 1; i >= 0; i--) {
    buf[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  buf[offset] = buf[offset]! | (~(0xff >> extra) & 0xff);
  return offset + size;
}

/**
 * Reads a complete unsigned vint at `offset` as a `number`.
 * @throws {TruncatedInputError} when the vint runs past the end of `buf`
 * @throws {VintOverflowError} when the value exceeds 2^53 - 1 (use {@link getUnsignedVintBig})
 */
export function getUnsignedVint(buf: Uint8Array, offset: number): number {
  const first = buf[offset];
  if (first === undefined) {
    throw new TruncatedInputError(`Cannot read vint: no byte at offset ${offset}`);
  }
  if (first < 0x80) return first;
  const extra = vintExtraBytes(first);
  if (offset + extra >= buf.length) {
    throw new TruncatedInputError(
      `Cannot read vint: need ${extra + 1} bytes at offset ${offset}, have ${buf.length - offset}`,
    );
  }
  if (extra <= 3) {
    let value = first & (0xff >> extra);
    for (let i = 1; i <= extra; i++) value = (value << 8) | buf[offset + i]!;
    return value >>> 0;
  }
  // Up to 64 bits: gather the high part and the low 32 bits separately to stay exact.
  let hi = extra === 8 ? 0 : first & (0xff >> extra);
  const loStart = offset + extra - 3;
  for (let i = offset + 1; i < loStart; i++) hi = hi * 256 + buf[i]!;
  const lo = ((buf[loStart]! << 24) | (buf[loStart + 1]! << 16) | (buf[loStart + 2]! << 8) |
    buf[loStart + 3]!) >>> 0;
  if (hi > 0x1f_ffff) {
    throw new VintOverflowError(
      `Cannot read vint as a number: its value exceeds 2^53 - 1 at offset ${offset}`,
    );
  }
  return hi * TWO_32 + lo;
}

/**
 * Reads a complete unsigned vint at `offset` as a `bigint` (any 64-bit value).
 * @throws {TruncatedInputError} when the vint runs past the end of `buf`
 */
export function getUnsignedVintBig(buf: Uint8Array, offset: number): bigint {
  const first = buf[offset];
  if (first === undefined) {
    throw new TruncatedInputError(`Cannot read vint: no byte at offset ${offset}`);
  }
  const extra = vintExtraBytes(first);
  if (offset + extra >= buf.length) {
    throw new TruncatedInputError(
      `Cannot read vint: need ${extra + 1} bytes at offset ${offset}, have ${buf.length - offset}`,
    );
  }
  let value = BigInt(extra === 8 ? 0 : first & (0xff >> extra));
  for (let i = 1; i <= extra; i++) value = (value << 8n) | BigInt(buf[offset + i]!);
  return value;
}

/** Zigzag-encodes a signed safe integer so that small magnitudes get small codes. */
export function zigzagEncode(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Inverse of {@link zigzagEncode}. */
export function zigzagDecode(value: number): number {
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

/** Zigzag-encodes a signed 64-bit `bigint` into the unsigned 64-bit range. */
export function zigzagEncodeBig(value: bigint): bigint {
  return BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
}

/** Inverse of {@link zigzagEncodeBig}, giving a signed 64-bit `bigint`. */
export function zigzagDecodeBig(value: bigint): bigint {
  return BigInt.asIntN(64, (value >> 1n) ^ -(value & 1n));
}

/** Largest magnitude the `number` signed functions accept: zigzag must stay a safe integer. */
export const MAX_SIGNED_VINT_NUMBER = 2 ** 52 - 1;

/** Encoded size of a signed `number` (|value| ≤ 2^52 - 1) as a signed vint. */
export function signedVintSize(value: number): number {
  return unsignedVintSize(zigzagEncode(value));
}

/** Writes a signed `number` (|value| ≤ 2^52 - 1) as a signed vint; returns the next offset. */
export function writeSignedVint(buf: Uint8Array, offset: number, value: number): number {
  if (!(Math.abs(value) <= MAX_SIGNED_VINT_NUMBER) || !Number.isInteger(value)) {
    throw new RangeError(`Cannot write signed vint: ${value} is outside ±(2^52 - 1)`);
  }
  return writeUnsignedVint(buf, offset, zigzagEncode(value));
}

/** Reads a complete signed vint as a `number`; throws {@link VintOverflowError} beyond 2^52. */
export function getSignedVint(buf: Uint8Array, offset: number): number {
  return zigzagDecode(getUnsignedVint(buf, offset));
}

/** Writes a signed 64-bit `bigint` as a signed vint; returns the next offset. */
export function writeSignedVintBig(buf: Uint8Array, offset: number, value: bigint): number {
  if (value < -(1n << 63n) || value >= 1n << 63n) {
    throw new RangeError(`Cannot write signed vint: ${value} is outside the signed 64-bit range`);
  }
  return writeUnsignedVintBig(buf, offset, zigzagEncodeBig(value));
}

/** Reads a complete signed vint as a signed 64-bit `bigint`. */
export function getSignedVintBig(buf: Uint8Array, offset: number): bigint {
  return zigzagDecodeBig(getUnsignedVintBig(buf, offset));
}
