/**
 * Ringwire's row payloads: `MUTATION_REQ` / `READ_REPAIR_REQ` ({@link Mutation}), `READ_REQ`
 * ({@link ReadCommand}), `READ_RSP` ({@link ReadResponse}) and `HINT_REQ` ({@link HintMessage}).
 *
 * A table maps a partition key (bytes) to one row: a value with a content type, a write
 * timestamp in microseconds and a tombstone flag; the newest timestamp wins. Layouts are the same
 * at versions 11 and 12 (the version argument is kept for future changes):
 *
 * - row data: `timestampMicros` long · `flags` byte (bit 0 tombstone) · unless a tombstone:
 *   `contentType` (uvint length + UTF-8) · `value` (uvint length + bytes). A tombstone carries no
 *   content type and no value, so every row has one canonical encoding (digests rely on it).
 * - Mutation: `tableId` 16 bytes · `key` (uvint length + bytes) · row data. The table id comes
 *   first so that a receiver can answer `INCOMPATIBLE_SCHEMA` for an unknown table early.
 * - ReadCommand: `tableId` · `key` · `flags` byte (bit 0 digest only).
 * - ReadResponse: `kind` byte · body. Kind 0: data, no such row; 1: data, then the row data
 *   (tombstones included, so the coordinator can reconcile and repair); 2: digest only, then the
 *   digest (uvint length + bytes, at most {@link MAX_DIGEST_BYTES}).
 * - HintMessage: `hostId` 16 bytes · `hint` (uvint length + bytes), the hint body sent verbatim
 *   from the hint file (PROTOCOL.md §11).
 *
 * Byte fields read back as views into the message buffer, not copies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserializePayload, serializePayload } from "./payload_serializer.ts";
 * import { type Mutation, mutationSerializer } from "./data_payloads.ts";
 * import { Uuid } from "./uuid.ts";
 * const mutation: Mutation = {
 *   tableId: Uuid.parse("5f3c1a2e-0000-4000-8000-000000000001"),
 *   key: new TextEncoder().encode("user:1"),
 *   timestampMicros: 1_700_000_000_000_000n,
 *   tombstone: false,
 *   contentType: "application/json",
 *   value: new TextEncoder().encode('{"name":"Ada"}'),
 * };
 * const bytes = serializePayload(mutationSerializer, mutation, 12);
 * assert.deepEqual(deserializePayload(mutationSerializer, bytes, 12), mutation);
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";
import type { PayloadSerializer } from "./payload_serializer.ts";
import {
  bytesWithVintLengthSize,
  checkInt64,
  readBoundedBytes,
  readBoundedString,
  readFlags,
  stringWithVintLengthSize,
  writeBoundedBytes,
  writeBoundedString,
} from "./payload_serializers.ts";
import { readUuid, type Uuid, UUID_SIZE_BYTES, writeUuid } from "./uuid.ts";

/** Largest partition key, in bytes (Cassandra's limit too). Keys are never empty. */
export const MAX_KEY_BYTES = 65_535;
/** Largest content type string, in UTF-8 bytes. */
export const MAX_CONTENT_TYPE_BYTES = 255;
/** Largest row digest in a digest-only read response, in bytes. */
export const MAX_DIGEST_BYTES = 64;
/** Values and hint bodies are bounded only by the message size limit. */
const UNBOUNDED_BYTES = Number.MAX_SAFE_INTEGER;

const ROW_FLAG_TOMBSTONE = 0x01;
const READ_FLAG_DIGEST_ONLY = 0x01;
const READ_KIND_ABSENT = 0;
const READ_KIND_ROW = 1;
const READ_KIND_DIGEST = 2;

const EMPTY_BYTES = new Uint8Array(0);

/** One version of a row's content: what a write sets and a read returns. */
export interface RowData {
  /** Write time in microseconds since the epoch; the newest wins. */
  readonly timestampMicros: bigint;
  /** Whether this version deletes the row (then `contentType` is "" and `value` empty). */
  readonly tombstone: boolean;
  /** Media type of `value` (`application/json`...), at most 255 UTF-8 bytes. */
  readonly contentType: string;
  /** The value bytes. */
  readonly value: Uint8Array;
}

/** A write of one row: `MUTATION_REQ`, `READ_REPAIR_REQ`, and the mutation inside a hint. */
export interface Mutation extends RowData {
  /** The table written. */
  readonly tableId: Uuid;
  /** The partition key, 1 to 65535 bytes. */
  readonly key: Uint8Array;
}

/** `READ_REQ`: read one row, in full or as a digest. */
export interface ReadCommand {
  /** The table read. */
  readonly tableId: Uuid;
  /** The partition key, 1 to 65535 bytes. */
  readonly key: Uint8Array;
  /** Answer with a digest of the row instead of the row (all replicas but one). */
  readonly digestOnly: boolean;
}

/**
 * `READ_RSP`. A data response has `row` (absent when the replica has no such row) and no
 * `digest`; a digest response has only `digest` (the storage layer's hash of the row, or of "no
 * row"). Never both.
 */
export interface ReadResponse {
  /** The row, tombstones included; absent for "no such row" and in digest responses. */
  readonly row?: RowData;
  /** The row's digest, only in answer to a digest-only read. */
  readonly digest?: Uint8Array;
}

/** `HINT_REQ`: a hint for the host `hostId`, its body sent verbatim from the hint file. */
export interface HintMessage {
  /** Host id the hint was written for (not ours when handed off by a leaving node). */
  readonly hostId: Uuid;
  /** The encoded hint body (creation time, gc grace, mutation), never re-serialized. */
  readonly hint: Uint8Array;
}

function keySize(key: Uint8Array): number {
  return bytesWithVintLengthSize(key.length);
}

function writeKey(key: Uint8Array, out: ByteWriter): void {
  if (key.length === 0) throw new RangeError("Cannot write partition key: it is empty");
  writeBoundedBytes(key, MAX_KEY_BYTES, out, "partition key");
}

function readKey(input: ByteReader): Uint8Array {
  const key = readBoundedBytes(input, MAX_KEY_BYTES, "partition key");
  if (key.length === 0) throw new MalformedInputError("Cannot read partition key: it is empty");
  return key;
}

/** Serialized size of row data. */
function rowDataSize(row: RowData): number {
  if (row.tombstone) return 9;
  return 9 + stringWithVintLengthSize(row.contentType) + bytesWithVintLengthSize(row.value.length);
}

function writeRowData(row: RowData, out: ByteWriter): void {
  checkInt64(row.timestampMicros, "row timestamp");
  if (row.tombstone && (row.contentType !== "" || row.value.length !== 0)) {
    throw new RangeError("Cannot write row: a tombstone has no content type and no value");
  }
  out.writeInt64(row.timestampMicros);
  out.writeUint8(row.tombstone ? ROW_FLAG_TOMBSTONE : 0);
  if (row.tombstone) return;
  writeBoundedString(row.contentType, MAX_CONTENT_TYPE_BYTES, out, "content type");
  writeBoundedBytes(row.value, UNBOUNDED_BYTES, out, "row value");
}

function readRowData(input: ByteReader): RowData {
  const timestampMicros = input.readInt64("row timestamp");
  const tombstone = (readFlags(input, ROW_FLAG_TOMBSTONE, "row flags") & ROW_FLAG_TOMBSTONE) !== 0;
  if (tombstone) return { timestampMicros, tombstone, contentType: "", value: EMPTY_BYTES };
  const contentType = readBoundedString(input, MAX_CONTENT_TYPE_BYTES, "content type");
  const value = readBoundedBytes(input, UNBOUNDED_BYTES, "row value");
  return { timestampMicros, tombstone, contentType, value };
}

/** The row content alone (timestamp, flags, content type, value): a building block. */
export const rowDataSerializer: PayloadSerializer<RowData> = Object.freeze({
  serializedSize: (value: RowData) => rowDataSize(value),
  write: (value: RowData, out: ByteWriter) => writeRowData(value, out),
  read: (input: ByteReader) => readRowData(input),
});

/** `MUTATION_REQ` / `READ_REPAIR_REQ` payload: table id, key, row data. */
export const mutationSerializer: PayloadSerializer<Mutation> = Object.freeze({
  serializedSize(value: Mutation): number {
    return UUID_SIZE_BYTES + keySize(value.key) + rowDataSize(value);
  },
  write(value: Mutation, out: ByteWriter): void {
    writeUuid(value.tableId, out);
    writeKey(value.key, out);
    writeRowData(value, out);
  },
  read(input: ByteReader): Mutation {
    const tableId = readUuid(input, "table id");
    const key = readKey(input);
    const row = readRowData(input);
    return {
      tableId,
      key,
      timestampMicros: row.timestampMicros,
      tombstone: row.tombstone,
      contentType: row.contentType,
      value: row.value,
    };
  },
});

/** `READ_REQ` payload: table id, key, flags (bit 0 digest only). */
export const readCommandSerializer: PayloadSerializer<ReadCommand> = Object.freeze({
  serializedSize(value: ReadCommand): number {
    return UUID_SIZE_BYTES + keySize(value.key) + 1;
  },
  write(value: ReadCommand, out: ByteWriter): void {
    writeUuid(value.tableId, out);
    writeKey(value.key, out);
    out.writeUint8(value.digestOnly ? READ_FLAG_DIGEST_ONLY : 0);
  },
  read(input: ByteReader): ReadCommand {
    const tableId = readUuid(input, "table id");
    const key = readKey(input);
    const flags = readFlags(input, READ_FLAG_DIGEST_ONLY, "read flags");
    return { tableId, key, digestOnly: (flags & READ_FLAG_DIGEST_ONLY) !== 0 };
  },
});

/** `READ_RSP` payload: kind byte (0 no row, 1 row, 2 digest), then the row or the digest. */
export const readResponseSerializer: PayloadSerializer<ReadResponse> = Object.freeze({
  serializedSize(value: ReadResponse): number {
    if (value.digest !== undefined) return 1 + bytesWithVintLengthSize(value.digest.length);
    return value.row === undefined ? 1 : 1 + rowDataSize(value.row);
  },
  write(value: ReadResponse, out: ByteWriter): void {
    if (value.digest !== undefined) {
      if (value.row !== undefined) {
        throw new RangeError("Cannot write read response: it has both a row and a digest");
      }
      out.writeUint8(READ_KIND_DIGEST);
      writeBoundedBytes(value.digest, MAX_DIGEST_BYTES, out, "row digest");
    } else if (value.row === undefined) {
      out.writeUint8(READ_KIND_ABSENT);
    } else {
      out.writeUint8(READ_KIND_ROW);
      writeRowData(value.row, out);
    }
  },
  read(input: ByteReader): ReadResponse {
    const kind = input.readUint8("read response kind");
    switch (kind) {
      case READ_KIND_ABSENT:
        return {};
      case READ_KIND_ROW:
        return { row: readRowData(input) };
      case READ_KIND_DIGEST:
        return { digest: readBoundedBytes(input, MAX_DIGEST_BYTES, "row digest") };
      default:
        throw new MalformedInputError(`Cannot read read response: unknown kind ${kind}`);
    }
  },
});

/** `HINT_REQ` payload: host id (16 bytes), uvint size, the hint body. */
export const hintMessageSerializer: PayloadSerializer<HintMessage> = Object.freeze({
  serializedSize(value: HintMessage): number {
    return UUID_SIZE_BYTES + bytesWithVintLengthSize(value.hint.length);
  },
  write(value: HintMessage, out: ByteWriter): void {
    writeUuid(value.hostId, out);
    out.writeBytesWithVintLength(value.hint);
  },
  read(input: ByteReader): HintMessage {
    const hostId = readUuid(input, "hint host id");
    return { hostId, hint: readBoundedBytes(input, UNBOUNDED_BYTES, "hint body") };
  },
});
