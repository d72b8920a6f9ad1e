import { deepEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { MalformedInputError, TruncatedInputError } from "./errors.ts";
import { deserializePayload, serializePayload } from "./payload_serializer.ts";
import { Uuid, uuidSerializer } from "./uuid.ts";
import { hex, toHex } from "./_test/hex.ts";

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Uuid.fromBytes(b));

Deno.test("Uuid.parse() and toString() round-trip the canonical form", () => {
  const text = "00112233-4455-6677-8899-aabbccddeeff";
  const id = Uuid.parse(text.toUpperCase());
  equal(id.toString(), text);
  equal(id.msb, 0x0011223344556677n);
  equal(id.lsb, 0x8899aabbccddeeffn);
  equal(JSON.stringify({ id }), `{"id":"${text}"}`);
  equal(Uuid.NIL.toString(), "00000000-0000-0000-0000-000000000000");
});

Deno.test("Uuid.parse() refuses anything but the canonical form", () => {
  for (
    const bad of [
      "",
      "00112233445566778899aabbccddeeff",
      "{00112233-4455-6677-8899-aabbccddeeff}",
      "00112233-4455-6677-8899-aabbccddeefg",
      "00112233-4455-6677-8899-aabbccddeeff0",
      " 00112233-4455-6677-8899-aabbccddeeff",
    ]
  ) {
    throws(() => Uuid.parse(bad), MalformedInputError, bad);
  }
});

Deno.test("uuidSerializer writes msb then lsb big-endian, in both directions", () => {
  const id = Uuid.parse("00112233-4455-6677-8899-aabbccddeeff");
  const bytes = "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff";
  for (const version of [11, 12]) {
    equal(toHex(serializePayload(uuidSerializer, id, version)), bytes);
    deepEqual(deserializePayload(uuidSerializer, hex(bytes), version), id);
  }
  deepEqual(id.toBytes(), hex(bytes));
});

Deno.test("uuidSerializer round-trips any UUID, and parse(toString()) is the identity", () => {
  fc.assert(
    fc.property(uuidArb, fc.constantFrom(11, 12), (id, version) => {
      const back = deserializePayload(
        uuidSerializer,
        serializePayload(uuidSerializer, id, version),
        version,
      );
      ok(back.equals(id));
      deepEqual(back, id);
      deepEqual(Uuid.parse(id.toString()), id);
      deepEqual(Uuid.fromBytes(id.toBytes()), id);
    }),
  );
});

Deno.test("uuidSerializer throws TruncatedInputError for every short input", () => {
  const bytes = Uuid.parse("00112233-4455-6677-8899-aabbccddeeff").toBytes();
  for (let n = 0; n < 16; n++) {
    throws(() => deserializePayload(uuidSerializer, bytes.subarray(0, n), 12), TruncatedInputError);
  }
});

Deno.test("Uuid.randomV4() sets version 4 and the RFC 4122 variant, keeping other bits", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (random) => {
      const before = Uint8Array.from(random);
      const id = Uuid.randomV4(random);
      deepEqual(random, before);
      equal(id.version, 4);
      const bytes = id.toBytes();
      equal(bytes[8]! >> 6, 0b10);
      equal(id.toString()[14], "4");
      for (const i of [0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 14, 15]) equal(bytes[i], random[i]);
    }),
  );
  notEqual(
    Uuid.randomV4(new Uint8Array(16)).toString(),
    Uuid.randomV4(new Uint8Array(16).fill(1)).toString(),
  );
  throws(() => Uuid.randomV4(new Uint8Array(15)), RangeError);
});

Deno.test("new Uuid() refuses halves outside the unsigned 64-bit range", () => {
  throws(() => new Uuid(-1n, 0n), RangeError);
  throws(() => new Uuid(0n, 2n ** 64n), RangeError);
  throws(() => Uuid.fromBytes(new Uint8Array(17)), RangeError);
});
