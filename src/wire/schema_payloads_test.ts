import { deepEqual, equal, fail, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { MalformedInputError, TruncatedInputError, WireError } from "./errors.ts";
import {
  deserializePayload,
  type PayloadSerializer,
  serializePayload,
} from "./payload_serializer.ts";
import {
  MAX_REPLICATION_OPTIONS,
  MAX_SCHEMA_TABLES,
  type SchemaSnapshot,
  schemaSnapshotSerializer,
  type TableDefinition,
  tableDefinitionSerializer,
} from "./schema_payloads.ts";
import { Uuid } from "./uuid.ts";
import { hex, toHex } from "./_test/hex.ts";
import { roundTrip } from "./_test/payload_checks.ts";

const VERSIONS = [11, 12] as const;
const ID = Uuid.parse("00010203-0405-4607-8809-0a0b0c0d0e0f");
const ID_HEX = "00 01 02 03 04 05 46 07 88 09 0a 0b 0c 0d 0e 0f";

const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Uuid.fromBytes(b));

const tableArb: fc.Arbitrary<TableDefinition> = fc.record({
  id: uuidArb,
  name: fc.string({ unit: "binary", minLength: 1, maxLength: 30 }),
  replication: fc.record({
    class: fc.constantFrom("SimpleStrategy" as const, "NetworkTopologyStrategy" as const),
    options: fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 5 }), {
      maxKeys: 5,
      noNullPrototype: true,
    }),
  }),
  gcGraceSeconds: fc.integer({ min: 0, max: 0x7fffffff }),
  dropped: fc.boolean(),
  updatedAtMicros: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
});

const snapshotArb: fc.Arbitrary<SchemaSnapshot> = fc.record({
  version: uuidArb,
  tables: fc.uniqueArray(tableArb, { maxLength: 4, selector: (t) => t.id.toString() }),
});

const users: TableDefinition = {
  id: ID,
  name: "u",
  replication: { class: "SimpleStrategy", options: { replication_factor: "3" } },
  gcGraceSeconds: 200,
  dropped: false,
  updatedAtMicros: 5n,
};
const USERS_HEX = [
  ID_HEX,
  "01 75", // name
  "00 00 00 00 00 00 00 05", // updatedAtMicros
  "00", // flags
  "80 c8", // gc grace 200
  "0e 53 69 6d 70 6c 65 53 74 72 61 74 65 67 79", // "SimpleStrategy"
  "01", // one option
  "12 72 65 70 6c 69 63 61 74 69 6f 6e 5f 66 61 63 74 6f 72 01 33", // replication_factor=3
].join(" ");

Deno.test("tableDefinitionSerializer matches hand-written bytes in both directions", () => {
  for (const version of VERSIONS) {
    equal(
      toHex(serializePayload(tableDefinitionSerializer, users, version)),
      toHex(hex(USERS_HEX)),
    );
    deepEqual(deserializePayload(tableDefinitionSerializer, hex(USERS_HEX), version), users);
  }
  const snapshot: SchemaSnapshot = { version: ID, tables: [users] };
  const snapshotHex = `${ID_HEX} 01 ${USERS_HEX}`;
  equal(toHex(serializePayload(schemaSnapshotSerializer, snapshot, 12)), toHex(hex(snapshotHex)));
  deepEqual(deserializePayload(schemaSnapshotSerializer, hex(snapshotHex), 12), snapshot);
});

Deno.test("schema payloads round-trip at versions 11 and 12", () => {
  for (const version of VERSIONS) {
    fc.assert(
      fc.property(snapshotArb, (s) => void roundTrip(schemaSnapshotSerializer, s, version)),
    );
  }
});

Deno.test("tableDefinitionSerializer sorts options, so equal tables have equal bytes", () => {
  const a = {
    ...users,
    replication: { class: "NetworkTopologyStrategy" as const, options: { b: "1", a: "2" } },
  };
  const b = {
    ...users,
    replication: { class: "NetworkTopologyStrategy" as const, options: { a: "2", b: "1" } },
  };
  deepEqual(
    serializePayload(tableDefinitionSerializer, a, 12),
    serializePayload(tableDefinitionSerializer, b, 12),
  );
});

Deno.test("tableDefinitionSerializer keeps a __proto__ option as plain data", () => {
  const options = Object.fromEntries([["__proto__", "x"]]);
  const table = { ...users, replication: { class: "SimpleStrategy" as const, options } };
  const back = deserializePayload(
    tableDefinitionSerializer,
    serializePayload(tableDefinitionSerializer, table, 12),
    12,
  );
  equal(Object.getPrototypeOf(back.replication.options), Object.prototype);
  deepEqual(Object.entries(back.replication.options), [["__proto__", "x"]]);
});

Deno.test("schema payloads fail every truncation with a typed error", () => {
  fc.assert(
    fc.property(snapshotArb, fc.constantFrom(11, 12), (snapshot, version) => {
      const bytes = serializePayload(schemaSnapshotSerializer, snapshot, version);
      for (let n = 0; n < bytes.length; n++) {
        try {
          deserializePayload(schemaSnapshotSerializer, bytes.subarray(0, n), version);
        } catch (error) {
          const countError = error instanceof MalformedInputError &&
            /a count of/.test(error.message);
          ok(error instanceof TruncatedInputError || countError, `prefix ${n}: ${error}`);
          continue;
        }
        fail(`prefix of ${n} bytes was accepted`);
      }
    }),
    { numRuns: 30 },
  );
  const table = hex(USERS_HEX);
  for (let n = 0; n < table.length; n++) {
    try {
      deserializePayload(tableDefinitionSerializer, table.subarray(0, n), 12);
      fail(`prefix of ${n} bytes was accepted`);
    } catch (error) {
      ok(error instanceof TruncatedInputError || /a count of/.test(String(error)), `prefix ${n}`);
    }
  }
});

Deno.test("schemaSnapshotSerializer refuses absurd table counts without allocating", () => {
  throws(
    () =>
      deserializePayload(schemaSnapshotSerializer, hex(`${ID_HEX} ff ff ff ff ff ff ff ff ff`), 12),
    MalformedInputError,
  );
  throws(
    () => deserializePayload(schemaSnapshotSerializer, hex(`${ID_HEX} 82 00`), 12),
    /a count of 512 needs/,
  );
  // A count under what the bytes could hold but over the named bound.
  const over = MAX_SCHEMA_TABLES + 1;
  const bytes = new Uint8Array(16 + 2 + over * 44);
  bytes.set([0x80 | (over >> 8), over & 0xff], 16); // a 2-byte uvint
  throws(() => deserializePayload(schemaSnapshotSerializer, bytes, 12), /exceed the maximum/);
});

Deno.test("tableDefinitionSerializer refuses malformed fields", () => {
  const head = `${ID_HEX} 01 75 00 00 00 00 00 00 00 05 00 80 c8`;
  const simple = "0e 53 69 6d 70 6c 65 53 74 72 61 74 65 67 79";
  const parse = (text: string) => deserializePayload(tableDefinitionSerializer, hex(text), 12);
  deepEqual(parse(`${head} ${simple} 00`).replication.options, {});
  // Unknown strategy "X".
  throws(() => parse(`${head} 01 58 00`), /unknown replication X/);
  // More options than allowed (but fewer than the bytes could hold).
  const many = MAX_REPLICATION_OPTIONS + 1;
  throws(
    () => parse(`${head} ${simple} ${many.toString(16)} ${"00 00 ".repeat(many)}`),
    /exceed 64/,
  );
  // The same key twice.
  throws(() => parse(`${head} ${simple} 02 01 61 00 01 61 00`), /option a appears twice/);
  // Empty name, unknown flag, gc grace above a Java int.
  throws(() => parse(`${ID_HEX} 00 00 00 00 00 00 00 00 05 00 00 ${simple} 00`), /name is empty/);
  throws(
    () => parse(`${ID_HEX} 01 75 00 00 00 00 00 00 00 05 02 00 ${simple} 00`),
    MalformedInputError,
  );
  throws(
    () => parse(`${ID_HEX} 01 75 00 00 00 00 00 00 00 05 00 f0 80 00 00 00 ${simple} 00`),
    /too large/,
  );
});

Deno.test("schema writers refuse invalid definitions", () => {
  const write = (table: TableDefinition) => serializePayload(tableDefinitionSerializer, table, 12);
  throws(() => write({ ...users, name: "" }), RangeError);
  throws(() => write({ ...users, gcGraceSeconds: -1 }), RangeError);
  throws(() => write({ ...users, gcGraceSeconds: 2 ** 31 }), RangeError);
  throws(() => write({ ...users, name: "x".repeat(256) }), RangeError);
  throws(
    () =>
      write({ ...users, replication: { class: "LocalStrategy" as "SimpleStrategy", options: {} } }),
    RangeError,
  );
  throws(
    () => serializePayload(schemaSnapshotSerializer, { version: ID, tables: [users, users] }, 12),
    /appears twice/,
  );
  const twice = `${ID_HEX} 02 ${USERS_HEX} ${USERS_HEX}`;
  throws(() => deserializePayload(schemaSnapshotSerializer, hex(twice), 12), MalformedInputError);
});

Deno.test("schema readers throw only WireErrors on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.constantFrom(11, 12), (bytes, version) => {
      for (
        const serializer of [
          schemaSnapshotSerializer,
          tableDefinitionSerializer,
        ] as PayloadSerializer<unknown>[]
      ) {
        try {
          deserializePayload(serializer, bytes, version);
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
        }
      }
    }),
  );
});
