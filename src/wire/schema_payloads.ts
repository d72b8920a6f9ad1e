/**
 * Schema payloads: the {@link SchemaSnapshot} that `SCHEMA_PUSH_REQ` sends and `SCHEMA_PULL_RSP`
 * answers with, made of {@link TableDefinition}s. The same layout at versions 11 and 12:
 *
 * - TableDefinition: `id` 16 bytes · `name` (uvint length + UTF-8) · `updatedAtMicros` long ·
 *   `flags` byte (bit 0 dropped) · `gcGraceSeconds` uvint · replication `class` (uvint length +
 *   UTF-8) · uvint option count · per option key and value (each uvint length + UTF-8). Options
 *   are written sorted by key, so equal definitions have equal bytes (schema versions hash them).
 * - SchemaSnapshot: `version` 16 bytes · uvint table count · the tables.
 *
 * Schemas merge per table id, newest `updatedAtMicros` first; a drop is kept as a definition with
 * `dropped` set (a tombstone), so that a node that missed it cannot resurrect the table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserializePayload, serializePayload } from "./payload_serializer.ts";
 * import { type SchemaSnapshot, schemaSnapshotSerializer } from "./schema_payloads.ts";
 * import { Uuid } from "./uuid.ts";
 * const snapshot: SchemaSnapshot = {
 *   version: Uuid.parse("00000000-0000-4000-8000-000000000002"),
 *   tables: [{
 *     id: Uuid.parse("00000000-0000-4000-8000-000000000001"),
 *     name: "users",
 *     replication: { class: "NetworkTopologyStrategy", options: { dc1: "3", dc2: "2" } },
 *     gcGraceSeconds: 864_000,
 *     dropped: false,
 *     updatedAtMicros: 1_700_000_000_000_000n,
 *   }],
 * };
 * const bytes = serializePayload(schemaSnapshotSerializer, snapshot, 12);
 * assert.deepEqual(deserializePayload(schemaSnapshotSerializer, bytes, 12), snapshot);
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";
import type { PayloadSerializer } from "./payload_serializer.ts";
import {
  checkInt64,
  readBoundedString,
  readFlags,
  readVintCount,
  stringWithVintLengthSize,
  writeBoundedString,
} from "./payload_serializers.ts";
import { unsignedVintSize } from "./vint.ts";
import { readUuid, type Uuid, UUID_SIZE_BYTES, writeUuid } from "./uuid.ts";

/** Largest table name, in UTF-8 bytes. Names are never empty. */
export const MAX_TABLE_NAME_BYTES = 255;
/** Most replication options one table may have. */
export const MAX_REPLICATION_OPTIONS = 64;
/** Largest replication option key or value, in UTF-8 bytes. */
export const MAX_REPLICATION_OPTION_BYTES = 255;
/** Most tables one schema snapshot may hold (dropped ones included). */
export const MAX_SCHEMA_TABLES = 4096;
/** Largest gc grace period, in seconds (a Java `int`). */
export const MAX_GC_GRACE_SECONDS = 0x7fffffff;

/** The replication strategies a table may use. */
export const REPLICATION_STRATEGY_CLASSES = ["SimpleStrategy", "NetworkTopologyStrategy"] as const;
Object.freeze(REPLICATION_STRATEGY_CLASSES);

/** Name of a replication strategy. */
export type ReplicationStrategyClass = typeof REPLICATION_STRATEGY_CLASSES[number];

/** How a table's rows are placed on replicas. */
export interface ReplicationStrategy {
  /** The strategy. */
  readonly class: ReplicationStrategyClass;
  /**
   * Its options: `replication_factor` for SimpleStrategy, datacenter name → factor for
   * NetworkTopologyStrategy. Values are strings, as in Cassandra.
   */
  readonly options: Readonly<Record<string, string>>;
}

/** One table of the schema. */
export interface TableDefinition {
  /** The table's id: rows and mutations name their table by it. */
  readonly id: Uuid;
  /** The table's name, unique among live tables. */
  readonly name: string;
  /** Replica placement. */
  readonly replication: ReplicationStrategy;
  /** How long tombstones (and hints) are kept, in seconds. */
  readonly gcGraceSeconds: number;
  /** Whether the table was dropped (a schema tombstone). */
  readonly dropped: boolean;
  /** When this definition was last changed, in microseconds since the epoch; newest wins. */
  readonly updatedAtMicros: bigint;
}

/** The whole schema as one node knows it. */
export interface SchemaSnapshot {
  /** Schema version: derived from the content, gossiped as `SCHEMA` to detect disagreement. */
  readonly version: Uuid;
  /** All tables, dropped ones included, with distinct ids. */
  readonly tables: readonly TableDefinition[];
}

const TABLE_FLAG_DROPPED = 0x01;
/** Largest replication class name, in bytes (the known ones are far shorter). */
const MAX_CLASS_BYTES = 64;
/** Fewest bytes a table: id, 1-byte name, timestamp, flags, gc grace, shortest class, count. */
const MIN_TABLE_BYTES = UUID_SIZE_BYTES + 2 + 8 + 1 + 1 + (1 + "SimpleStrategy".length) + 1;
/** Fewest bytes an option takes: two empty strings. */
const MIN_OPTION_BYTES = 2;

const knownClasses: ReadonlySet<string> = new Set(REPLICATION_STRATEGY_CLASSES);

function sortedOptions(options: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(options).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function checkTable(value: TableDefinition): void {
  if (value.name === "") throw new RangeError("Cannot write table: its name is empty");
  if (!knownClasses.has(value.replication.class)) {
    throw new RangeError(
      `Cannot write table ${value.name}: unknown replication ${value.replication.class}`,
    );
  }
  if (
    !Number.isInteger(value.gcGraceSeconds) || value.gcGraceSeconds < 0 ||
    value.gcGraceSeconds > MAX_GC_GRACE_SECONDS
  ) {
    throw new RangeError(
      `Cannot write table ${value.name}: gc grace ${value.gcGraceSeconds} s is out of range`,
    );
  }
  checkInt64(value.updatedAtMicros, "table update time");
  if (Object.keys(value.replication.options).length > MAX_REPLICATION_OPTIONS) {
    throw new RangeError(
      `Cannot write table ${value.name}: more than ${MAX_REPLICATION_OPTIONS} replication options`,
    );
  }
}

/** One table definition: a building block of {@link schemaSnapshotSerializer}. */
export const tableDefinitionSerializer: PayloadSerializer<TableDefinition> = Object.freeze({
  serializedSize(value: TableDefinition): number {
    const options = Object.entries(value.replication.options);
    let size = UUID_SIZE_BYTES + stringWithVintLengthSize(value.name) + 8 + 1 +
      unsignedVintSize(value.gcGraceSeconds) + stringWithVintLengthSize(value.replication.class) +
      unsignedVintSize(options.length);
    for (const [key, option] of options) {
      size += stringWithVintLengthSize(key) + stringWithVintLengthSize(option);
    }
    return size;
  },
  write(value: TableDefinition, out: ByteWriter): void {
    checkTable(value);
    writeUuid(value.id, out);
    writeBoundedString(value.name, MAX_TABLE_NAME_BYTES, out, "table name");
    out.writeInt64(value.updatedAtMicros);
    out.writeUint8(value.dropped ? TABLE_FLAG_DROPPED : 0);
    out.writeUnsignedVint(value.gcGraceSeconds);
    writeBoundedString(value.replication.class, MAX_CLASS_BYTES, out, "replication class");
    const options = sortedOptions(value.replication.options);
    out.writeUnsignedVint(options.length);
    for (const [key, option] of options) {
      writeBoundedString(key, MAX_REPLICATION_OPTION_BYTES, out, "replication option key");
      writeBoundedString(option, MAX_REPLICATION_OPTION_BYTES, out, "replication option value");
    }
  },
  read(input: ByteReader): TableDefinition {
    const id = readUuid(input, "table id");
    const name = readBoundedString(input, MAX_TABLE_NAME_BYTES, "table name");
    if (name === "") throw new MalformedInputError("Cannot read table: its name is empty");
    const updatedAtMicros = input.readInt64("table update time");
    const dropped = (readFlags(input, TABLE_FLAG_DROPPED, "table flags") & TABLE_FLAG_DROPPED) !==
      0;
    const gcGrace = input.readUnsignedVintBig("gc grace seconds");
    if (gcGrace > BigInt(MAX_GC_GRACE_SECONDS)) {
      throw new MalformedInputError(
        `Cannot read table ${name}: gc grace ${gcGrace} s is too large`,
      );
    }
    const strategy = readBoundedString(input, MAX_CLASS_BYTES, "replication class");
    if (!knownClasses.has(strategy)) {
      throw new MalformedInputError(`Cannot read table ${name}: unknown replication ${strategy}`);
    }
    const count = readVintCount(input, MIN_OPTION_BYTES, "replication options");
    if (count > MAX_REPLICATION_OPTIONS) {
      throw new MalformedInputError(
        `Cannot read table ${name}: ${count} replication options exceed ${MAX_REPLICATION_OPTIONS}`,
      );
    }
    const entries: [string, string][] = [];
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const key = readBoundedString(input, MAX_REPLICATION_OPTION_BYTES, "replication option key");
      if (seen.has(key)) {
        throw new MalformedInputError(`Cannot read table ${name}: option ${key} appears twice`);
      }
      seen.add(key);
      entries.push([
        key,
        readBoundedString(input, MAX_REPLICATION_OPTION_BYTES, "replication option value"),
      ]);
    }
    return {
      id,
      name,
      // fromEntries defines own properties, so a key like "__proto__" stays plain data.
      replication: {
        class: strategy as ReplicationStrategyClass,
        options: Object.fromEntries(entries),
      },
      gcGraceSeconds: Number(gcGrace),
      dropped,
      updatedAtMicros,
    };
  },
});

/** `SCHEMA_PUSH_REQ` / `SCHEMA_PULL_RSP` payload: version, uvint count, table definitions. */
export const schemaSnapshotSerializer: PayloadSerializer<SchemaSnapshot> = Object.freeze({
  serializedSize(value: SchemaSnapshot, version: number): number {
    let size = UUID_SIZE_BYTES + unsignedVintSize(value.tables.length);
    for (const table of value.tables) {
      size += tableDefinitionSerializer.serializedSize(table, version);
    }
    return size;
  },
  write(value: SchemaSnapshot, out: ByteWriter, version: number): void {
    if (value.tables.length > MAX_SCHEMA_TABLES) {
      throw new RangeError(`Cannot write schema: more than ${MAX_SCHEMA_TABLES} tables`);
    }
    const ids = new Set<string>();
    for (const table of value.tables) {
      const id = table.id.toString();
      if (ids.has(id)) throw new RangeError(`Cannot write schema: table id ${id} appears twice`);
      ids.add(id);
    }
    writeUuid(value.version, out);
    out.writeUnsignedVint(value.tables.length);
    for (const table of value.tables) tableDefinitionSerializer.write(table, out, version);
  },
  read(input: ByteReader, version: number): SchemaSnapshot {
    const schemaVersion = readUuid(input, "schema version");
    const count = readVintCount(input, MIN_TABLE_BYTES, "tables");
    if (count > MAX_SCHEMA_TABLES) {
      throw new MalformedInputError(
        `Cannot read schema: ${count} tables exceed the maximum of ${MAX_SCHEMA_TABLES}`,
      );
    }
    const tables: TableDefinition[] = [];
    const ids = new Set<string>();
    for (let i = 0; i < count; i++) {
      const table = tableDefinitionSerializer.read(input, version);
      const id = table.id.toString();
      if (ids.has(id)) throw new MalformedInputError(`Cannot read schema: table ${id} twice`);
      ids.add(id);
      tables.push(table);
    }
    return { version: schemaVersion, tables };
  },
});
