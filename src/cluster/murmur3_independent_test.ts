/**
 * Murmur3 tokens checked against an independent implementation written here, in 32-bit halves
 * with no `bigint` arithmetic, straight from Cassandra's `MurmurHash.hash3_x64_128` (Java long
 * semantics: tail bytes are signed and sign-extended before the shift) and
 * `Murmur3Partitioner.getToken` (the empty key is the minimum token; `Long.MIN_VALUE` becomes
 * `Long.MAX_VALUE`).
 */

import { equal } from "node:assert/strict";
import fc from "fast-check";
import { murmur3Token } from "./murmur3.ts";
import { CASSANDRA_VECTORS } from "./_murmur3_vectors.ts";

/** A 64-bit value as two unsigned 32-bit halves. */
interface U64 {
  hi: number;
  lo: number;
}

const u64 = (hi: number, lo: number): U64 => ({ hi: hi >>> 0, lo: lo >>> 0 });
const C1 = u64(0x87c37b91, 0x114253d5);
const C2 = u64(0x4cf5ad43, 0x2745937f);
const FMIX1 = u64(0xff51afd7, 0xed558ccd);
const FMIX2 = u64(0xc4ceb9fe, 0x1a85ec53);

/** The full 64-bit product of two unsigned 32-bit numbers, from 16-bit pieces. */
function mul32(a: number, b: number): U64 {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const lo = ((mid & 0xffff) * 0x10000) + (p00 & 0xffff);
  const hi = p11 + Math.floor(p01 / 0x10000) + Math.floor(p10 / 0x10000) +
    Math.floor(mid / 0x10000);
  return u64(hi, lo);
}

function mul(a: U64, b: U64): U64 {
  const low = mul32(a.lo, b.lo);
  return u64(low.hi + Math.imul(a.hi, b.lo) + Math.imul(a.lo, b.hi), low.lo);
}

function add(a: U64, b: U64): U64 {
  const lo = a.lo + b.lo;
  return u64(a.hi + b.hi + (lo > 0xffffffff ? 1 : 0), lo);
}

const xor = (a: U64, b: U64): U64 => u64(a.hi ^ b.hi, a.lo ^ b.lo);

function shl(a: U64, n: number): U64 {
  if (n === 0) return a;
  if (n >= 32) return u64(a.lo << (n - 32), 0);
  return u64((a.hi << n) | (a.lo >>> (32 - n)), a.lo << n);
}

function rotl(a: U64, n: number): U64 {
  const x = n >= 32 ? u64(a.lo, a.hi) : a;
  const r = n % 32;
  if (r === 0) return x;
  return u64((x.hi << r) | (x.lo >>> (32 - r)), (x.lo << r) | (x.hi >>> (32 - r)));
}

/** `k ^ (k >>> 33)` for a 64-bit k. */
const xorShr33 = (k: U64): U64 => xor(k, u64(0, k.hi >>> 1));

function fmix(k: U64): U64 {
  k = mul(xorShr33(k), FMIX1);
  k = mul(xorShr33(k), FMIX2);
  return xorShr33(k);
}

/** Java `getLong` little-endian at `offset`. */
const readLong = (d: Uint8Array, o: number): U64 =>
  u64(
    d[o + 4]! | (d[o + 5]! << 8) | (d[o + 6]! << 16) | (d[o + 7]! << 24),
    d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24),
  );

/** Java `((long) byte) << shift`, the byte signed. */
function signedByte(byte: number, shift: number): U64 {
  const signed = byte >= 0x80 ? byte - 256 : byte;
  return shl(u64(signed < 0 ? 0xffffffff : 0, signed), shift);
}

function mixK1(k1: U64): U64 {
  return mul(rotl(mul(k1, C1), 31), C2);
}

function mixK2(k2: U64): U64 {
  return mul(rotl(mul(k2, C2), 33), C1);
}

/** Cassandra's token of `key`, as a signed decimal string. */
function referenceToken(key: Uint8Array): string {
  if (key.length === 0) return "-9223372036854775808";
  let h1 = u64(0, 0);
  let h2 = u64(0, 0);
  const blocks = key.length >>> 4;
  for (let i = 0; i < blocks; i++) {
    h1 = xor(h1, mixK1(readLong(key, i * 16)));
    h1 = add(mul(add(rotl(h1, 27), h2), u64(0, 5)), u64(0, 0x52dce729));
    h2 = xor(h2, mixK2(readLong(key, i * 16 + 8)));
    h2 = add(mul(add(rotl(h2, 31), h1), u64(0, 5)), u64(0, 0x38495ab5));
  }
  const tail = blocks * 16;
  const rest = key.length & 15;
  let k1 = u64(0, 0);
  let k2 = u64(0, 0);
  // Java's switch falls through from case `rest` down to case 1.
  for (let i = rest; i >= 1; i--) {
    if (i > 8) k2 = xor(k2, signedByte(key[tail + i - 1]!, (i - 9) * 8));
    if (i === 9) h2 = xor(h2, mixK2(k2));
    if (i <= 8) k1 = xor(k1, signedByte(key[tail + i - 1]!, (i - 1) * 8));
    if (i === 1) h1 = xor(h1, mixK1(k1));
  }
  const length = u64(0, key.length);
  h1 = xor(h1, length);
  h2 = xor(h2, length);
  h1 = add(h1, h2);
  h2 = add(h2, h1);
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = add(h1, h2);
  // Signed 64-bit decimal of h1, done with two halves; Long.MIN_VALUE maps to Long.MAX_VALUE.
  if (h1.hi === 0x80000000 && h1.lo === 0) return "9223372036854775807";
  const negative = h1.hi >= 0x80000000;
  const magnitude = negative ? add(u64(~h1.hi, ~h1.lo), u64(0, 1)) : h1;
  const decimal = (BigInt(magnitude.hi) * 4294967296n + BigInt(magnitude.lo)).toString();
  return negative ? `-${decimal}` : decimal;
}

const fromHex = (hex: string) =>
  hex === "-" ? new Uint8Array(0) : Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));

Deno.test("the independent implementation reproduces Cassandra's Java vectors", () => {
  for (const [hex, , token] of CASSANDRA_VECTORS) equal(referenceToken(fromHex(hex)), token, hex);
});

Deno.test("murmur3Token() agrees with the independent implementation on random keys", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 80 }), (key) => {
      equal(murmur3Token(key).toString(), referenceToken(key));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("murmur3Token() agrees on keys of every tail length with high-bit bytes", () => {
  for (let length = 0; length <= 48; length++) {
    for (const fill of [0x00, 0x7f, 0x80, 0xff]) {
      const key = new Uint8Array(length).fill(fill).map((b, i) => (b + i * 37) & 0xff);
      equal(murmur3Token(key).toString(), referenceToken(key), `length ${length} fill ${fill}`);
    }
  }
});
