import { equal } from "node:assert/strict";
import { MAX_TOKEN, MIN_TOKEN, murmur3H1, murmur3Token } from "./murmur3.ts";
import { CASSANDRA_VECTORS } from "./_murmur3_vectors.ts";

const text = (s: string) => new TextEncoder().encode(s);
const fromHex = (hex: string) =>
  hex === "-" ? new Uint8Array(0) : Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16));

Deno.test("murmur3H1() matches the reference MurmurHash3 x64 128 where tails are below 0x80", () => {
  // Standard vectors (as in the gocql driver's tests): no tail byte has its top bit set.
  const vectors: Array<[Uint8Array, bigint]> = [
    [new Uint8Array(0), 0x0n],
    [Uint8Array.of(0), 0x4610abe56eff5cb5n],
    [Uint8Array.of(0, 1), 0x7cb3f5c58dab264cn],
    [Uint8Array.of(0, 1, 2), 0xb872a12fef53e6ben],
    [Uint8Array.of(0, 1, 2, 3), 0xe1c594ae0ddfaf10n],
    [text("hello"), 0xcbd8a7b341bd9b02n],
    [text("hello, world"), 0x342fac623a5ebc8en],
    [text("19 Jan 2038 at 3:14:07 AM"), 0xb89e5988b737affcn],
    [text("The quick brown fox jumps over the lazy dog."), 0xcd99481f9ee902c9n],
  ];
  for (const [data, h1] of vectors) equal(murmur3H1(data), h1, new TextDecoder().decode(data));
});

Deno.test("murmur3Token() matches Cassandra's Java hash, signed tail bytes included", () => {
  for (const [hex, h1, token] of CASSANDRA_VECTORS) {
    const key = fromHex(hex);
    equal(murmur3H1(key).toString(16), h1, `h1 of ${hex}`);
    equal(murmur3Token(key), BigInt(token), `token of ${hex}`);
  }
});

Deno.test("the empty key has the minimum token; tokens stay within the signed range", () => {
  equal(murmur3Token(new Uint8Array(0)), MIN_TOKEN);
  for (let i = 0; i < 200; i++) {
    const token = murmur3Token(text(`key-${i}`));
    equal(token >= MIN_TOKEN && token <= MAX_TOKEN, true);
  }
});
