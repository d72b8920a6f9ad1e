import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  type HintMessage,
  hintMessageSerializer,
  MAX_DIGEST_BYTES,
  MAX_KEY_BYTES,
  type Mutation,
  mutationSerializer,
  type ReadCommand,
  readCommandSerializer,
  type ReadResponse,
  readResponseSerializer,
  type RowData,
  rowDataSerializer,
} from "./data_payloads.ts";
import { MalformedInputError, TruncatedInputError, WireError } from "./errors.ts";
import {
  deserializePayload,
  type PayloadSerializer,
  serializePayload,
} from "./payload_serializer.ts";
import { Uuid } from "./uuid.ts";
import { hex, toHex } from "./_test/hex.ts";
import { assertPrefixesTruncated, roundTrip } from "./_test/payload_checks.ts";

const VERSIONS = [11, 12] as const;
const TABLE = Uuid.parse("00010203-0405-4607-8809-0a0b0c0d0e0f");
const TABLE_HEX = "00 01 02 03 04 05 46 07 88 09 0a 0b 0c 0d 0e 0f";

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Uuid.fromBytes(b));
const keyArb = fc.uint8Array({ minLength: 1, maxLength: 40 });
const timestampArb = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

const rowArb: fc.Arbitrary<RowData> = fc.oneof(
  fc.record({
    timestampMicros: timestampArb,
    tombstone: fc.constant(false),
    contentType: fc.string({ unit: "binary", maxLength: 30 }),
    value: fc.uint8Array({ maxLength: 200 }),
  }),
  fc.record({
    timestampMicros: timestampArb,
    tombstone: fc.constant(true),
    contentType: fc.constant(""),
    value: fc.constant(new Uint8Array(0)),
  }),
);

const mutationArb: fc.Arbitrary<Mutation> = fc.tuple(uuidArb, keyArb, rowArb).map((
  [tableId, key, row],
) => ({ tableId, key, ...row }));

const readCommandArb: fc.Arbitrary<ReadCommand> = fc.record({
  tableId: uuidArb,
  key: keyArb,
  digestOnly: fc.boolean(),
});

const readResponseArb: fc.Arbitrary<ReadResponse> = fc.oneof(
  fc.constant({}),
  rowArb.map((row) => ({ row })),
  fc.uint8Array({ maxLength: MAX_DIGEST_BYTES }).map((digest) => ({ digest })),
);

const hintArb: fc.Arbitrary<HintMessage> = fc.record({
  hostId: uuidArb,
  hint: fc.uint8Array({ maxLength: 200 }),
});

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("mutationSerializer matches hand-written bytes in both directions", () => {
  const live: Mutation = {
    tableId: TABLE,
    key: utf8("k"),
    timestampMicros: 1n,
    tombstone: false,
    contentType: "t",
    value: Uint8Array.of(0xab),
  };
  const liveHex = `${TABLE_HEX} 01 6b 00 00 00 00 00 00 00 01 00 01 74 01 ab`;
  const deleted: Mutation = { ...live, tombstone: true, contentType: "", value: new Uint8Array(0) };
  const deletedHex = `${TABLE_HEX} 01 6b 00 00 00 00 00 00 00 01 01`;
  for (const version of VERSIONS) {
    equal(toHex(serializePayload(mutationSerializer, live, version)), liveHex);
    deepEqual(deserializePayload(mutationSerializer, hex(liveHex), version), live);
    equal(toHex(serializePayload(mutationSerializer, deleted, version)), deletedHex);
    deepEqual(deserializePayload(mutationSerializer, hex(deletedHex), version), deleted);
  }
});

Deno.test("read command, read response and hint serializers match hand-written bytes", () => {
  const read: ReadCommand = { tableId: TABLE, key: utf8("k"), digestOnly: true };
  const readHex = `${TABLE_HEX} 01 6b 01`;
  equal(toHex(serializePayload(readCommandSerializer, read, 12)), readHex);
  deepEqual(deserializePayload(readCommandSerializer, hex(readHex), 12), read);

  const table: Array<[ReadResponse, string]> = [
    [{}, "00"],
    [
      { row: { timestampMicros: -1n, tombstone: false, contentType: "", value: Uint8Array.of(7) } },
      "01 ff ff ff ff ff ff ff ff 00 00 01 07",
    ],
    [{ digest: Uint8Array.of(0xde, 0xad) }, "02 02 de ad"],
  ];
  for (const [response, bytes] of table) {
    equal(toHex(serializePayload(readResponseSerializer, response, 11)), bytes);
    deepEqual(deserializePayload(readResponseSerializer, hex(bytes), 11), response);
  }

  const hint: HintMessage = { hostId: TABLE, hint: Uint8Array.of(1, 2, 3, 4) };
  const hintHex = `${TABLE_HEX} 04 01 02 03 04`;
  equal(toHex(serializePayload(hintMessageSerializer, hint, 12)), hintHex);
  deepEqual(deserializePayload(hintMessageSerializer, hex(hintHex), 12), hint);
});

Deno.test("row payloads round-trip at versions 11 and 12", () => {
  for (const version of VERSIONS) {
    fc.assert(fc.property(mutationArb, (m) => void roundTrip(mutationSerializer, m, version)));
    fc.assert(
      fc.property(readCommandArb, (r) => void roundTrip(readCommandSerializer, r, version)),
    );
    fc.assert(
      fc.property(readResponseArb, (r) => void roundTrip(readResponseSerializer, r, version)),
    );
    fc.assert(fc.property(hintArb, (h) => void roundTrip(hintMessageSerializer, h, version)));
    fc.assert(fc.property(rowArb, (r) => void roundTrip(rowDataSerializer, r, version)));
  }
});

Deno.test("row payloads throw TruncatedInputError for every truncation", () => {
  for (const version of VERSIONS) {
    fc.assert(
      fc.property(mutationArb, readCommandArb, readResponseArb, hintArb, (m, r, rsp, h) => {
        assertPrefixesTruncated(
          mutationSerializer,
          serializePayload(mutationSerializer, m, version),
          version,
        );
        assertPrefixesTruncated(
          readCommandSerializer,
          serializePayload(readCommandSerializer, r, version),
          version,
        );
        assertPrefixesTruncated(
          readResponseSerializer,
          serializePayload(readResponseSerializer, rsp, version),
          version,
        );
        assertPrefixesTruncated(
          hintMessageSerializer,
          serializePayload(hintMessageSerializer, h, version),
          version,
        );
      }),
      { numRuns: 30 },
    );
  }
});

Deno.test("mutationSerializer reads byte fields as views of the message", () => {
  const bytes = hex(`${TABLE_HEX} 01 6b 00 00 00 00 00 00 00 01 00 01 74 01 ab`);
  const mutation = deserializePayload(mutationSerializer, bytes, 12);
  equal(mutation.key.buffer, bytes.buffer);
  equal(mutation.value.buffer, bytes.buffer);
});

Deno.test("mutationSerializer enforces key bounds on both sides", () => {
  const row = { timestampMicros: 0n, tombstone: true, contentType: "", value: new Uint8Array(0) };
  const tooLong = { tableId: TABLE, key: new Uint8Array(MAX_KEY_BYTES + 1), ...row };
  throws(() => serializePayload(mutationSerializer, tooLong, 12), RangeError);
  const empty = { tableId: TABLE, key: new Uint8Array(0), ...row };
  throws(() => serializePayload(mutationSerializer, empty, 12), RangeError);
  // Length 65536 announced: refused before the bytes are even looked for.
  throws(
    () => deserializePayload(mutationSerializer, hex(`${TABLE_HEX} c1 00 00`), 12),
    /exceeds the maximum of 65535/,
  );
  throws(
    () =>
      deserializePayload(mutationSerializer, hex(`${TABLE_HEX} 00 00 00 00 00 00 00 00 01 01`), 12),
    /key: it is empty/,
  );
  const maxKey = { tableId: TABLE, key: new Uint8Array(MAX_KEY_BYTES).fill(1), ...row };
  roundTrip(mutationSerializer, maxKey, 12);
});

Deno.test("row data refuses non-canonical tombstones and unknown flags", () => {
  const ts = "00 00 00 00 00 00 00 01";
  throws(() =>
    serializePayload(rowDataSerializer, {
      timestampMicros: 1n,
      tombstone: true,
      contentType: "",
      value: Uint8Array.of(1),
    }, 12), RangeError);
  throws(() =>
    serializePayload(rowDataSerializer, {
      timestampMicros: 1n,
      tombstone: true,
      contentType: "text/plain",
      value: new Uint8Array(0),
    }, 12), RangeError);
  throws(
    () => deserializePayload(rowDataSerializer, hex(`${ts} 02 00 00`), 12),
    MalformedInputError,
  );
  // A tombstone followed by a value is left-over bytes.
  throws(
    () => deserializePayload(rowDataSerializer, hex(`${ts} 01 00 00`), 12),
    MalformedInputError,
  );
  throws(() =>
    serializePayload(rowDataSerializer, {
      timestampMicros: 2n ** 63n,
      tombstone: false,
      contentType: "",
      value: new Uint8Array(0),
    }, 12), RangeError);
  throws(() =>
    serializePayload(rowDataSerializer, {
      timestampMicros: 0n,
      tombstone: false,
      contentType: "x".repeat(256),
      value: new Uint8Array(0),
    }, 12), RangeError);
  throws(
    () => deserializePayload(rowDataSerializer, hex(`${ts} 00 81 00 00`), 12),
    /content type: its length 256 exceeds/,
  );
});

Deno.test("readResponseSerializer refuses unknown kinds, big digests, and both fields", () => {
  throws(() => deserializePayload(readResponseSerializer, hex("03"), 12), /unknown kind 3/);
  throws(
    () => deserializePayload(readResponseSerializer, hex(`02 41 ${"00 ".repeat(65)}`), 12),
    MalformedInputError,
  );
  throws(
    () =>
      serializePayload(
        readResponseSerializer,
        { digest: new Uint8Array(MAX_DIGEST_BYTES + 1) },
        12,
      ),
    RangeError,
  );
  const row = { timestampMicros: 0n, tombstone: true, contentType: "", value: new Uint8Array(0) };
  throws(
    () => serializePayload(readResponseSerializer, { row, digest: new Uint8Array(1) }, 12),
    /both a row and a digest/,
  );
  throws(
    () => deserializePayload(readCommandSerializer, hex(`${TABLE_HEX} 01 6b 02`), 12),
    MalformedInputError,
  );
});

Deno.test("hintMessageSerializer refuses an absurd hint size without allocating it", () => {
  throws(
    () =>
      deserializePayload(hintMessageSerializer, hex(`${TABLE_HEX} ff ff ff ff ff ff ff ff ff`), 12),
    MalformedInputError,
  );
  throws(
    () => deserializePayload(hintMessageSerializer, hex(`${TABLE_HEX} f0 ff ff ff ff 00`), 12),
    TruncatedInputError,
  );
});

Deno.test("row payload readers throw only WireErrors on arbitrary bytes", () => {
  const serializers: PayloadSerializer<unknown>[] = [
    mutationSerializer,
    readCommandSerializer,
    readResponseSerializer,
    hintMessageSerializer,
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 48 }), fc.constantFrom(11, 12), (bytes, version) => {
      for (const serializer of serializers) {
        try {
          deserializePayload(serializer, bytes, version);
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
        }
      }
    }),
  );
});
