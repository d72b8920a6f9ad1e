/**
 * CRC32 (zlib's, IEEE) for frame trailers, handshakes and hint files (PROTOCOL.md §3).
 *
 * The fast path is `node:zlib`'s native `crc32`; the pure-JS `crc-32` package is the fallback
 * when the runtime lacks it, and the oracle the tests compare against. Frames and handshakes
 * use the *seeded* CRC32 (primed with `FA 2D 55 CA`); hint files use the plain one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seededCrc32 } from "./crc32.ts";
 * assert(seededCrc32(new TextEncoder().encode("hello")) === 0xb60e8074);
 * ```
 *
 * @module
 */

import * as zlib from "node:zlib";
import CRC32 from "crc-32";

type Crc32Function = (data: Uint8Array, initial: number) => number;

/** The `crc-32` package's CRC32, continuing from `initial`; always unsigned. */
export function crc32Fallback(data: Uint8Array, initial: number): number {
  return CRC32.buf(data, initial) >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: Crc32Function }).crc32;

/** Which implementation {@link crc32} uses on this runtime. */
export const crc32Implementation: "native" | "fallback" = typeof nativeCrc32 === "function"
  ? "native"
  : "fallback";

const impl: Crc32Function = nativeCrc32 ?? crc32Fallback;

/** Plain CRC32 of `data`, continuing from `initial` (0 for a fresh CRC); unsigned. */
export function crc32(data: Uint8Array, initial = 0): number {
  return impl(data, initial);
}

/** The seed bytes that prime every seeded CRC32. */
export const CRC32_SEED_BYTES: Uint8Array = Uint8Array.of(0xfa, 0x2d, 0x55, 0xca);

/** CRC32 state after the seed bytes: the seeded CRC32 of empty input, `0x44777ed3`. */
export const SEEDED_CRC32_INITIAL: number = crc32(CRC32_SEED_BYTES);

/** Seeded CRC32 of `data` (CRC32 primed with `FA 2D 55 CA`); unsigned. */
export function seededCrc32(data: Uint8Array): number {
  return impl(data, SEEDED_CRC32_INITIAL);
}
