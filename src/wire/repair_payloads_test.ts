import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { MalformedInputError, TruncatedInputError, WireError } from "./errors.ts";
import {
  deserializePayload,
  type PayloadSerializer,
  serializePayload,
} from "./payload_serializer.ts";
import {
  MAX_MERKLE_TREE_DEPTH,
  MERKLE_HASH_BYTES,
  type SyncRequest,
  syncRequestSerializer,
  type SyncResponse,
  syncResponseSerializer,
  type TokenRange,
  tokenRangeSerializer,
  type ValidationRequest,
  validationRequestSerializer,
  type ValidationResponse,
  validationResponseSerializer,
  type ValidationTree,
} from "./repair_payloads.ts";
import { Uuid } from "./uuid.ts";
import { hex, toHex } from "./_test/hex.ts";
import { addressArb, assertPrefixesFail, roundTrip } from "./_test/payload_checks.ts";

const VERSIONS = [11, 12] as const;
const SESSION = Uuid.parse("00000000-0000-4000-8000-0000000000aa");
const TABLE = Uuid.parse("00000000-0000-4000-8000-000000000001");
const SESSION_HEX = "00 00 00 00 00 00 40 00 80 00 00 00 00 00 00 aa";
const TABLE_HEX = "00 00 00 00 00 00 40 00 80 00 00 00 00 00 00 01";

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Uuid.fromBytes(b));
const tokenArb = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const rangeArb: fc.Arbitrary<TokenRange> = fc.record({ left: tokenArb, right: tokenArb });
const rangesArb = fc.array(rangeArb, { maxLength: 5 });

const treeArb: fc.Arbitrary<ValidationTree> = fc.integer({ min: 0, max: 4 }).chain((depth) =>
  fc.record({
    range: rangeArb,
    depth: fc.constant(depth),
    leafHashes: fc.uint8Array({
      minLength: 2 ** depth * MERKLE_HASH_BYTES,
      maxLength: 2 ** depth * MERKLE_HASH_BYTES,
    }),
  })
);

const validationRequestArb: fc.Arbitrary<ValidationRequest> = fc.record({
  sessionId: uuidArb,
  tableId: uuidArb,
  ranges: rangesArb,
  incremental: fc.boolean(),
});

const validationResponseArb: fc.Arbitrary<ValidationResponse> = fc.oneof(
  fc.record({
    sessionId: uuidArb,
    tableId: uuidArb,
    success: fc.constant(true),
    trees: fc.array(treeArb, { maxLength: 3 }),
  }),
  fc.record({
    sessionId: uuidArb,
    tableId: uuidArb,
    success: fc.constant(false),
    trees: fc.constant([]),
  }),
);

function syncRequestArb(version: number): fc.Arbitrary<SyncRequest> {
  return fc.record({
    sessionId: uuidArb,
    tableId: uuidArb,
    initiator: addressArb(version),
    source: addressArb(version),
    destination: addressArb(version),
    ranges: rangesArb,
  });
}

function syncResponseArb(version: number): fc.Arbitrary<SyncResponse> {
  return fc.record({
    sessionId: uuidArb,
    tableId: uuidArb,
    source: addressArb(version),
    destination: addressArb(version),
    success: fc.boolean(),
    rowsTransferred: fc.nat(),
    bytesTransferred: fc.maxSafeNat(),
  });
}

Deno.test("validationRequestSerializer matches hand-written bytes in both directions", () => {
  const request: ValidationRequest = {
    sessionId: SESSION,
    tableId: TABLE,
    ranges: [{ left: -(2n ** 63n), right: 1n }],
    incremental: true,
  };
  const bytes = `${SESSION_HEX} ${TABLE_HEX} 01 01 80 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01`;
  for (const version of VERSIONS) {
    equal(toHex(serializePayload(validationRequestSerializer, request, version)), bytes);
    deepEqual(deserializePayload(validationRequestSerializer, hex(bytes), version), request);
  }
});

Deno.test("validation and sync response serializers match hand-written bytes", () => {
  const leaf = "ab ".repeat(32).trim();
  const response: ValidationResponse = {
    sessionId: SESSION,
    tableId: TABLE,
    success: true,
    trees: [{ range: { left: 0n, right: -1n }, depth: 0, leafHashes: hex(leaf) }],
  };
  const responseHex =
    `${SESSION_HEX} ${TABLE_HEX} 01 01 00 00 00 00 00 00 00 00 ff ff ff ff ff ff ff ff 00 ${leaf}`;
  equal(toHex(serializePayload(validationResponseSerializer, response, 12)), responseHex);
  deepEqual(deserializePayload(validationResponseSerializer, hex(responseHex), 12), response);

  const sync: SyncResponse = {
    sessionId: SESSION,
    tableId: TABLE,
    source: { host: "10.0.0.1", port: 7000 },
    destination: { host: "10.0.0.2", port: 7001 },
    success: true,
    rowsTransferred: 128,
    bytesTransferred: 0,
  };
  const v12 = `${SESSION_HEX} ${TABLE_HEX} 06 0a 00 00 01 1b 58 06 0a 00 00 02 1b 59 01 80 80 00`;
  equal(toHex(serializePayload(syncResponseSerializer, sync, 12)), v12);
  deepEqual(deserializePayload(syncResponseSerializer, hex(v12), 12), sync);
  const v11 = `${SESSION_HEX} ${TABLE_HEX} 04 0a 00 00 01 04 0a 00 00 02 01 80 80 00`;
  equal(toHex(serializePayload(syncResponseSerializer, sync, 11)), v11);
  deepEqual(deserializePayload(syncResponseSerializer, hex(v11), 11), {
    ...sync,
    source: { host: "10.0.0.1", port: 0 },
    destination: { host: "10.0.0.2", port: 0 },
  });
});

Deno.test("repair payloads round-trip at versions 11 and 12", () => {
  for (const version of VERSIONS) {
    fc.assert(
      fc.property(
        validationRequestArb,
        (v) => void roundTrip(validationRequestSerializer, v, version),
      ),
    );
    fc.assert(
      fc.property(
        validationResponseArb,
        (v) => void roundTrip(validationResponseSerializer, v, version),
      ),
    );
    fc.assert(
      fc.property(
        syncRequestArb(version),
        (v) => void roundTrip(syncRequestSerializer, v, version),
      ),
    );
    fc.assert(
      fc.property(
        syncResponseArb(version),
        (v) => void roundTrip(syncResponseSerializer, v, version),
      ),
    );
    fc.assert(fc.property(rangeArb, (v) => void roundTrip(tokenRangeSerializer, v, version)));
  }
});

Deno.test("repair payloads fail every truncation with a typed error", () => {
  for (const version of VERSIONS) {
    fc.assert(
      fc.property(
        validationRequestArb,
        validationResponseArb,
        syncRequestArb(version),
        syncResponseArb(version),
        (vreq, vrsp, sreq, srsp) => {
          for (
            const [serializer, value] of [
              [validationRequestSerializer, vreq],
              [validationResponseSerializer, vrsp],
              [syncRequestSerializer, sreq],
              [syncResponseSerializer, srsp],
            ] as [PayloadSerializer<unknown>, unknown][]
          ) {
            assertPrefixesFail(serializer, serializePayload(serializer, value, version), version);
          }
        },
      ),
      { numRuns: 20 },
    );
  }
  // No list in it: every cut of a SYNC_RSP is a TruncatedInputError.
  const bytes = hex(`${SESSION_HEX} ${TABLE_HEX} 04 0a 00 00 01 04 0a 00 00 02 01 80 80 00`);
  for (let n = 0; n < bytes.length; n++) {
    throws(
      () => deserializePayload(syncResponseSerializer, bytes.subarray(0, n), 11),
      TruncatedInputError,
    );
  }
});

Deno.test("repair readers refuse absurd counts and depths without allocating", () => {
  const head = `${SESSION_HEX} ${TABLE_HEX}`;
  throws(
    () =>
      deserializePayload(
        validationRequestSerializer,
        hex(`${head} 00 ff ff ff ff ff ff ff ff ff`),
        12,
      ),
    MalformedInputError,
  );
  throws(
    () =>
      deserializePayload(validationRequestSerializer, hex(`${head} 00 02 ${"00 ".repeat(16)}`), 12),
    /a count of 2 needs at least 32 bytes but 16 remain/,
  );
  throws(
    () => deserializePayload(validationResponseSerializer, hex(`${head} 01 f0 ff ff ff ff`), 12),
    MalformedInputError,
  );
  // Depth 21 announced: refused before 64 MiB of leaves are looked for.
  const range = "00 ".repeat(16);
  throws(
    () =>
      deserializePayload(
        validationResponseSerializer,
        hex(`${head} 01 01 ${range} 15 ${"00 ".repeat(32)}`),
        12,
      ),
    /depth 21 exceeds 20/,
  );
  // Depth 20 announced with one leaf present: the leaves are truncated.
  throws(
    () =>
      deserializePayload(
        validationResponseSerializer,
        hex(`${head} 01 01 ${range} 14 ${"00 ".repeat(32)}`),
        12,
      ),
    TruncatedInputError,
  );
  // A failure with trees, and unknown flag bits.
  throws(
    () =>
      deserializePayload(
        validationResponseSerializer,
        hex(`${head} 00 01 ${range} 00 ${"00 ".repeat(32)}`),
        12,
      ),
    /a failure carries 1 trees/,
  );
  throws(
    () => deserializePayload(validationRequestSerializer, hex(`${head} 02 00`), 12),
    MalformedInputError,
  );
});

Deno.test("repair writers refuse invalid trees, tokens and counters", () => {
  const base = { sessionId: SESSION, tableId: TABLE, success: true };
  const range = { left: 0n, right: 0n };
  const write = (trees: ValidationTree[], success = true) =>
    serializePayload(validationResponseSerializer, { ...base, success, trees }, 12);
  throws(
    () => write([{ range, depth: MAX_MERKLE_TREE_DEPTH + 1, leafHashes: new Uint8Array(0) }]),
    RangeError,
  );
  throws(() => write([{ range, depth: 1, leafHashes: new Uint8Array(32) }]), /needs 64 leaf bytes/);
  throws(() => write([{ range, depth: 0, leafHashes: new Uint8Array(32) }], false), /failure/);
  throws(
    () => serializePayload(tokenRangeSerializer, { left: 2n ** 63n, right: 0n }, 12),
    RangeError,
  );
  const sync: SyncResponse = {
    ...base,
    source: { host: "10.0.0.1", port: 1 },
    destination: { host: "10.0.0.2", port: 1 },
    rowsTransferred: -1,
    bytesTransferred: 0,
  };
  throws(() => serializePayload(syncResponseSerializer, sync, 12), RangeError);
});

Deno.test("validationResponseSerializer carries a depth-20 tree", () => {
  const leafHashes = new Uint8Array(2 ** 20 * MERKLE_HASH_BYTES).fill(7);
  const response: ValidationResponse = {
    sessionId: SESSION,
    tableId: TABLE,
    success: true,
    trees: [{ range: { left: 1n, right: 2n }, depth: 20, leafHashes }],
  };
  const bytes = serializePayload(validationResponseSerializer, response, 12);
  equal(bytes.length, 16 + 16 + 1 + 1 + 16 + 1 + leafHashes.length);
  const back = deserializePayload(validationResponseSerializer, bytes, 12);
  equal(back.trees[0]?.leafHashes.buffer, bytes.buffer);
  equal(back.trees[0]?.leafHashes.length, leafHashes.length);
});

Deno.test("repair readers throw only WireErrors on arbitrary bytes", () => {
  const serializers: PayloadSerializer<unknown>[] = [
    validationRequestSerializer,
    validationResponseSerializer,
    syncRequestSerializer,
    syncResponseSerializer,
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 100 }), fc.constantFrom(11, 12), (bytes, version) => {
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
