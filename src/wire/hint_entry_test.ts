import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { crc32 } from "./crc32.ts";
import { CorruptHintError, MalformedInputError, TruncatedInputError } from "./errors.ts";
import {
  decodeHintBody,
  encodeHintBody,
  encodeHintEntry,
  HINT_ENTRY_OVERHEAD_BYTES,
  hintBodySize,
  readHintEntry,
} from "./hint_entry.ts";
import { concat, hex, toHex } from "./_test/hex.ts";

const GOLDEN_ENTRY = "00 00 00 04 26 29 1b 05 01 02 03 04 07 da 5d 78";

Deno.test("encodeHintEntry() writes the PROTOCOL.md §11 example bytes", () => {
  equal(toHex(encodeHintEntry(Uint8Array.of(1, 2, 3, 4))), GOLDEN_ENTRY);
});

Deno.test("readHintEntry() reads the PROTOCOL.md §11 example bytes", () => {
  const read = readHintEntry(hex(GOLDEN_ENTRY), 0);
  ok(read.kind === "entry");
  equal(toHex(read.body), "01 02 03 04");
  equal(read.nextOffset, 16);
});

Deno.test("readHintEntry() reads entries one after another from an offset", () => {
  const file = concat(
    encodeHintEntry(Uint8Array.of(9)),
    encodeHintEntry(new Uint8Array(0)),
    hex(GOLDEN_ENTRY),
  );
  const bodies: string[] = [];
  let offset = 0;
  while (offset < file.length) {
    const read = readHintEntry(file, offset);
    ok(read.kind === "entry", read.kind);
    bodies.push(toHex(read.body));
    offset = read.nextOffset;
  }
  deepEqual(bodies, ["09", "", "01 02 03 04"]);
  equal(readHintEntry(file, file.length).kind, "need-more");
});

Deno.test("readHintEntry() returns need-more for every truncation, never throws", () => {
  const entry = hex(GOLDEN_ENTRY);
  for (let n = 0; n < entry.length; n++) {
    const read = readHintEntry(entry.subarray(0, n), 0);
    ok(read.kind === "need-more", `prefix of ${n} bytes: ${read.kind}`);
    equal(read.needBytes, n < 8 ? 8 : 16);
  }
});

Deno.test("readHintEntry() returns eof for a zero size followed by zeros", () => {
  const file = concat(hex(GOLDEN_ENTRY), new Uint8Array(64));
  equal(readHintEntry(file, 16).kind, "eof");
  equal(readHintEntry(new Uint8Array(8), 0).kind, "eof");
});

Deno.test("readHintEntry() returns corrupt-size when zeros are followed by data", () => {
  const file = concat(new Uint8Array(8), Uint8Array.of(0, 0, 1));
  const read = readHintEntry(file, 0);
  ok(read.kind === "corrupt-size");
  ok(read.error instanceof CorruptHintError);
});

Deno.test("readHintEntry() returns corrupt-size when the size CRC fails", () => {
  const entry = hex(GOLDEN_ENTRY);
  entry[3] = 0x05;
  const read = readHintEntry(entry, 0);
  ok(read.kind === "corrupt-size");
  ok(read.error instanceof CorruptHintError);
  ok(read.error.message.startsWith("Cannot read hint entry"));
});

Deno.test("readHintEntry() returns corrupt-body with the next offset when the body CRC fails", () => {
  const file = concat(hex(GOLDEN_ENTRY), encodeHintEntry(Uint8Array.of(7, 7)));
  file[9] = 0xff;
  const read = readHintEntry(file, 0);
  ok(read.kind === "corrupt-body");
  ok(read.error instanceof CorruptHintError);
  equal(read.nextOffset, 16);
  const next = readHintEntry(file, read.nextOffset);
  ok(next.kind === "entry");
  equal(toHex(next.body), "07 07");
});

Deno.test("readHintEntry() treats a size above maxHintSizeBytes as a corrupt size", () => {
  const entry = encodeHintEntry(new Uint8Array(100));
  ok(readHintEntry(entry, 0, { maxHintSizeBytes: 100 }).kind === "entry");
  const read = readHintEntry(entry.subarray(0, 8), 0, { maxHintSizeBytes: 99 });
  ok(read.kind === "corrupt-size", "must not wait for a body it would refuse");
  ok(read.error.message.includes("exceeds the maximum of 99 bytes"));
});

Deno.test("readHintEntry() treats a huge (negative as a Java int) size as corrupt", () => {
  // The size CRC is valid: only the bound stops the reader from waiting for 4 GiB.
  const header = hex("ff ff ff ff 00 00 00 00");
  new DataView(header.buffer).setUint32(4, crc32(header.subarray(0, 4)));
  const read = readHintEntry(header, 0);
  ok(read.kind === "corrupt-size");
  ok(read.error.message.includes("size 4294967295 exceeds"));
});

Deno.test("encodeHintEntry() refuses a body above maxHintSizeBytes", () => {
  throws(() => encodeHintEntry(new Uint8Array(11), { maxHintSizeBytes: 10 }), RangeError);
});

Deno.test("readHintEntry() rejects an offset outside the buffer", () => {
  throws(() => readHintEntry(new Uint8Array(4), 5), RangeError);
  throws(() => readHintEntry(new Uint8Array(4), -1), RangeError);
});

Deno.test("readHintEntry() round-trips any body, fed one byte at a time", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
      const entry = encodeHintEntry(body);
      equal(entry.length, body.length + HINT_ENTRY_OVERHEAD_BYTES);
      for (let n = 0; n < entry.length; n++) {
        const read = readHintEntry(entry.subarray(0, n), 0);
        equal(read.kind, "need-more");
      }
      const read = readHintEntry(entry, 0);
      ok(read.kind === "entry");
      deepEqual(read.body, body);
      equal(read.nextOffset, entry.length);
    }),
  );
});

Deno.test("readHintEntry() detects every single-bit flip of an entry", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (body) => {
      const entry = encodeHintEntry(body);
      for (let bit = 0; bit < entry.length * 8; bit++) {
        const flipped = concat(entry, new Uint8Array(0));
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        const read = readHintEntry(flipped, 0);
        // A flip may make the size larger (need-more) but never yields altered data as valid.
        ok(read.kind !== "entry" && read.kind !== "eof", `bit ${bit}: ${read.kind}`);
        if (bit < 64) ok(read.kind === "corrupt-size" || read.kind === "need-more");
        else ok(read.kind === "corrupt-body", `bit ${bit}: ${read.kind}`);
      }
    }),
    { numRuns: 30 },
  );
});

Deno.test("encodeHintBody() writes creation time long, gc grace uvint, then the mutation", () => {
  const body = encodeHintBody({
    creationTimeMs: 0x0102030405,
    gcGraceSeconds: 864000,
    mutation: Uint8Array.of(0xaa, 0xbb),
  });
  equal(toHex(body), "00 00 00 01 02 03 04 05 cd 2f 00 aa bb");
  deepEqual(decodeHintBody(body), {
    creationTimeMs: 0x0102030405,
    gcGraceSeconds: 864000,
    mutation: Uint8Array.of(0xaa, 0xbb),
  });
});

Deno.test("encodeHintBody() and decodeHintBody() round-trip", () => {
  fc.assert(
    fc.property(
      fc.maxSafeInteger(),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.uint8Array({ maxLength: 100 }),
      (creationTimeMs, gcGraceSeconds, mutation) => {
        const hint = { creationTimeMs, gcGraceSeconds, mutation };
        const body = encodeHintBody(hint);
        equal(body.length, hintBodySize(hint));
        deepEqual(decodeHintBody(body), hint);
      },
    ),
  );
});

Deno.test("decodeHintBody() throws a typed error on a short or impossible body", () => {
  throws(() => decodeHintBody(new Uint8Array(7)), TruncatedInputError);
  throws(() => decodeHintBody(new Uint8Array(8)), TruncatedInputError);
  throws(() => decodeHintBody(hex("7f ff ff ff ff ff ff ff 00")), MalformedInputError);
});

Deno.test("encodeHintBody() refuses a negative gc grace or a fractional time", () => {
  const mutation = new Uint8Array(0);
  throws(() => encodeHintBody({ creationTimeMs: 1, gcGraceSeconds: -1, mutation }), RangeError);
  throws(() => encodeHintBody({ creationTimeMs: 1.5, gcGraceSeconds: 1, mutation }), RangeError);
});
