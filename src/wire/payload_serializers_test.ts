import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { ByteReader } from "./byte_reader.ts";
import { MalformedInputError, TruncatedInputError, WireError } from "./errors.ts";
import { deserializePayload, serializePayload } from "./payload_serializer.ts";
import {
  checkCount,
  emptySerializer,
  failureReasonFromCode,
  failureReasonSerializer,
  pingSerializer,
  rawBytesSerializer,
  readBoundedBytes,
  readBoundedString,
  readFlags,
  readInt32Count,
  readVintCount,
  RequestFailureReason,
  utf8ByteLength,
} from "./payload_serializers.ts";
import { hex, toHex } from "./_test/hex.ts";

Deno.test("emptySerializer writes nothing and refuses a non-empty payload", () => {
  for (const version of [11, 12]) {
    equal(serializePayload(emptySerializer, undefined, version).length, 0);
    equal(deserializePayload(emptySerializer, new Uint8Array(0), version), undefined);
    throws(
      () => deserializePayload(emptySerializer, Uint8Array.of(1), version),
      MalformedInputError,
    );
  }
});

Deno.test("rawBytesSerializer() reads the whole payload as a view", () => {
  const payload = Uint8Array.of(9, 8, 7);
  const back = deserializePayload(rawBytesSerializer, payload, 12);
  deepEqual(back, payload);
  equal(back.buffer, payload.buffer);
  deepEqual(serializePayload(rawBytesSerializer, payload, 11), payload);
  equal(deserializePayload(rawBytesSerializer, new Uint8Array(0), 12).length, 0);
});

Deno.test("failureReasonSerializer writes a uvint at version 12 and a short at 11", () => {
  const table: Array<[RequestFailureReason, string, string]> = [
    [RequestFailureReason.UNKNOWN, "00", "00 00"],
    [RequestFailureReason.READ_TOO_MANY_TOMBSTONES, "01", "00 01"],
    [RequestFailureReason.TIMEOUT, "02", "00 02"],
    [RequestFailureReason.INCOMPATIBLE_SCHEMA, "03", "00 03"],
    [RequestFailureReason.OVERLOADED, "10", "00 10"],
    [RequestFailureReason.NOT_READY, "13", "00 13"],
  ];
  for (const [reason, v12, v11] of table) {
    equal(toHex(serializePayload(failureReasonSerializer, reason, 12)), v12);
    equal(toHex(serializePayload(failureReasonSerializer, reason, 11)), v11);
    equal(deserializePayload(failureReasonSerializer, hex(v12), 12), reason);
    equal(deserializePayload(failureReasonSerializer, hex(v11), 11), reason);
  }
});

Deno.test("failureReasonSerializer reads unknown codes as UNKNOWN at both versions", () => {
  const unknown = RequestFailureReason.UNKNOWN;
  equal(deserializePayload(failureReasonSerializer, hex("04"), 12), unknown);
  equal(deserializePayload(failureReasonSerializer, hex("7f"), 12), unknown);
  equal(deserializePayload(failureReasonSerializer, hex("bf ff"), 12), unknown);
  // A 9-byte vint far beyond any safe integer.
  equal(
    deserializePayload(failureReasonSerializer, hex("ff ff ff ff ff ff ff ff ff"), 12),
    unknown,
  );
  equal(deserializePayload(failureReasonSerializer, hex("12 34"), 11), unknown);
  equal(deserializePayload(failureReasonSerializer, hex("ff ff"), 11), unknown);
  equal(failureReasonFromCode(2n ** 64n), unknown);
  equal(failureReasonFromCode(17), RequestFailureReason.STORAGE_FAILURE);
});

Deno.test("failureReasonSerializer throws TruncatedInputError on short input", () => {
  throws(
    () => deserializePayload(failureReasonSerializer, new Uint8Array(0), 12),
    TruncatedInputError,
  );
  throws(() => deserializePayload(failureReasonSerializer, hex("80"), 12), TruncatedInputError);
  throws(() => deserializePayload(failureReasonSerializer, hex("00"), 11), TruncatedInputError);
});

Deno.test("failureReasonSerializer refuses to write a code it does not know", () => {
  throws(
    () => serializePayload(failureReasonSerializer, 7 as RequestFailureReason, 12),
    RangeError,
  );
});

Deno.test("RequestFailureReason codes are append-only", () => {
  deepEqual({ ...RequestFailureReason }, {
    UNKNOWN: 0,
    READ_TOO_MANY_TOMBSTONES: 1,
    TIMEOUT: 2,
    INCOMPATIBLE_SCHEMA: 3,
    OVERLOADED: 16,
    STORAGE_FAILURE: 17,
    INVALID_REQUEST: 18,
    NOT_READY: 19,
  });
});

Deno.test("pingSerializer round-trips connection types 1 to 3 and refuses others", () => {
  for (const type of [1, 2, 3]) {
    for (const version of [11, 12]) {
      const bytes = serializePayload(pingSerializer, type, version);
      deepEqual([...bytes], [type]);
      equal(deserializePayload(pingSerializer, bytes, version), type);
    }
  }
  for (const bad of [0, 4, 255]) {
    throws(() => deserializePayload(pingSerializer, Uint8Array.of(bad), 12), MalformedInputError);
    throws(() => serializePayload(pingSerializer, bad, 12), RangeError);
  }
  throws(() => deserializePayload(pingSerializer, new Uint8Array(0), 12), TruncatedInputError);
});

Deno.test("readInt32Count() refuses counts the remaining bytes cannot hold", () => {
  const input = new ByteReader(hex("7f ff ff ff 00 00 00 00"));
  throws(() => readInt32Count(input, 1, "things"), MalformedInputError);
  throws(
    () => readInt32Count(new ByteReader(hex("ff ff ff ff")), 1, "things"),
    MalformedInputError,
  );
  equal(readInt32Count(new ByteReader(hex("00 00 00 02 00 00")), 1, "things"), 2);
  throws(() => readInt32Count(new ByteReader(hex("00 00 00 02 00 00")), 2, "things"), /needs/);
});

Deno.test("readVintCount() refuses absurd 64-bit counts without losing precision", () => {
  const huge = new ByteReader(hex("ff ff ff ff ff ff ff ff ff"));
  throws(() => readVintCount(huge, 1, "things"), MalformedInputError);
  equal(readVintCount(new ByteReader(hex("03 00 00 00")), 1, "things"), 3);
  throws(() => checkCount(1n, 0x7fffffff, new ByteReader(new Uint8Array(8)), "x"), /needs/);
});

Deno.test("readBoundedBytes() refuses lengths above the bound before reading", () => {
  throws(() => readBoundedBytes(new ByteReader(hex("05 01 02 03 04 05")), 4, "x"), /exceeds/);
  throws(() => readBoundedBytes(new ByteReader(hex("04 01 02")), 4, "x"), TruncatedInputError);
  deepEqual([...readBoundedBytes(new ByteReader(hex("02 01 02")), 4, "x")], [1, 2]);
  throws(
    () => readBoundedBytes(new ByteReader(hex("ff ff ff ff ff ff ff ff ff")), 4, "x"),
    MalformedInputError,
  );
});

Deno.test("readBoundedString() refuses invalid UTF-8 as MalformedInputError", () => {
  throws(() => readBoundedString(new ByteReader(hex("02 c3 28")), 8, "x"), MalformedInputError);
  equal(readBoundedString(new ByteReader(hex("02 c3 a9")), 8, "x"), "é");
});

Deno.test("readFlags() refuses unknown bits", () => {
  equal(readFlags(new ByteReader(hex("01")), 0x01, "flags"), 1);
  throws(() => readFlags(new ByteReader(hex("02")), 0x01, "flags"), MalformedInputError);
});

Deno.test("utf8ByteLength() matches TextEncoder for any string", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (text) => {
      equal(utf8ByteLength(text), new TextEncoder().encode(text).length);
    }),
  );
  for (const odd of ["\ud800", "a\udc00b", "\ud83d\ude00", "\ud83d"]) {
    equal(utf8ByteLength(odd), new TextEncoder().encode(odd).length);
  }
});

Deno.test("basic serializers throw only WireErrors on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), fc.constantFrom(11, 12), (bytes, version) => {
      for (const serializer of [failureReasonSerializer, pingSerializer, emptySerializer]) {
        try {
          deserializePayload<unknown>(serializer, bytes, version);
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
        }
      }
    }),
  );
});
