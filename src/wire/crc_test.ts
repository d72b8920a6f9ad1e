import { equal } from "node:assert/strict";
import fc from "fast-check";
import { crc24, crc24Reference } from "./crc24.ts";
import { crc32, crc32Fallback, crc32Implementation, seededCrc32 } from "./crc32.ts";
import { hex } from "./_test/hex.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("seededCrc32() matches PROTOCOL.md §3 examples", () => {
  equal(seededCrc32(new Uint8Array(0)), 0x44777ed3);
  equal(seededCrc32(text("hello")), 0xb60e8074);
});

Deno.test("crc32() uses the native zlib implementation on Deno", () => {
  equal(crc32Implementation, "native");
});

Deno.test("crc32() agrees with the crc-32 package for any input and start value", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.nat({ max: 0xffffffff }), (data, start) => {
      equal(crc32(data, start), crc32Fallback(data, start));
      equal(crc32(data), crc32Fallback(data, 0));
    }),
    { numRuns: 500 },
  );
});

Deno.test("crc24() matches the frame header examples", () => {
  // header3b then CRC24 stored little-endian (cassandra_internals_notes.md §2.2, §2.3).
  const headers: Array<[string, number]> = [
    ["32 00 02", 0xeeffa5],
    ["32 00 00", 0x572eb8],
    ["ff ff 03", 0x474025],
    ["05 00 02", 0x9a9919],
    ["28 00 64 00 04", 0x41b871],
    ["01 00 00 00 04", 0x87a506],
  ];
  for (const [bytes, expected] of headers) {
    const buf = hex(bytes);
    equal(crc24(buf, 0, buf.length), expected, bytes);
    equal(crc24Reference(buf, 0, buf.length), expected, bytes);
  }
});

Deno.test("crc24() table form equals the bitwise reference", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (data) => {
      equal(crc24(data, 0, data.length), crc24Reference(data, 0, data.length));
    }),
  );
});

Deno.test("crc32() agrees with the crc-32 package on frame-sized and larger inputs", () => {
  const data = new Uint8Array(1 << 20);
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  for (const size of [65535, 65536, 131071, 1 << 20]) {
    equal(crc32(data.subarray(0, size)), crc32Fallback(data.subarray(0, size), 0), `${size} bytes`);
  }
});
