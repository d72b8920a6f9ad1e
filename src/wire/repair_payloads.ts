/**
 * Merkle-tree repair payloads: `VALIDATION_REQ` / `VALIDATION_RSP` (build and return the trees of
 * some token ranges) and `SYNC_REQ` / `SYNC_RSP` (stream the differing ranges between two
 * replicas), all answered by the empty `REPAIR_RSP`.
 *
 * Layouts (the same at versions 11 and 12, except that addresses take the connection's form and
 * so carry no port at version 11; they read back with port 0):
 *
 * - TokenRange: `left` long · `right` long: the Murmur3 tokens of the range `(left, right]`.
 * - Ranges: uvint count · that many TokenRanges.
 * - ValidationRequest: `sessionId` · `tableId` · `flags` byte (bit 0 incremental) · ranges.
 * - ValidationResponse: `sessionId` · `tableId` · `flags` byte (bit 0 success) · uvint tree
 *   count · per tree: range · `depth` byte (0–{@link MAX_MERKLE_TREE_DEPTH}) · `2^depth × 32`
 *   bytes of leaf hashes (no length prefix: the depth gives it). A failure carries no trees.
 * - SyncRequest: `sessionId` · `tableId` · `initiator` · `source` · `destination` · ranges.
 * - SyncResponse: `sessionId` · `tableId` · `source` · `destination` · `flags` byte (bit 0
 *   success) · `rowsTransferred` uvint · `bytesTransferred` uvint.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserializePayload, serializePayload } from "./payload_serializer.ts";
 * import { type ValidationRequest, validationRequestSerializer } from "./repair_payloads.ts";
 * import { Uuid } from "./uuid.ts";
 * const request: ValidationRequest = {
 *   sessionId: Uuid.parse("00000000-0000-4000-8000-0000000000aa"),
 *   tableId: Uuid.parse("00000000-0000-4000-8000-000000000001"),
 *   ranges: [{ left: -(2n ** 63n), right: 0n }],
 *   incremental: false,
 * };
 * const bytes = serializePayload(validationRequestSerializer, request, 12);
 * assert.equal(bytes.length, 16 + 16 + 1 + 1 + 16);
 * assert.deepEqual(deserializePayload(validationRequestSerializer, bytes, 12), request);
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";
import {
  type InetAddressAndPort,
  inetAddressSize,
  readInetAddress,
  writeInetAddress,
} from "./inet_address.ts";
import type { PayloadSerializer } from "./payload_serializer.ts";
import { checkInt64, checkUnsigned, readFlags, readVintCount } from "./payload_serializers.ts";
import { unsignedVintSize } from "./vint.ts";
import { readUuid, type Uuid, UUID_SIZE_BYTES, writeUuid } from "./uuid.ts";

/** Deepest Merkle tree a validation response may carry (Cassandra's default maximum). */
export const MAX_MERKLE_TREE_DEPTH = 20;
/** Size of one Merkle leaf hash (two concatenated 128-bit Murmur3 hashes). */
export const MERKLE_HASH_BYTES = 32;

/** A Murmur3 token range `(left, right]`; tokens are signed 64-bit values. */
export interface TokenRange {
  /** Exclusive start token. */
  readonly left: bigint;
  /** Inclusive end token. */
  readonly right: bigint;
}

/** `VALIDATION_REQ`: build Merkle trees of these ranges of a table. */
export interface ValidationRequest {
  /** The repair session. */
  readonly sessionId: Uuid;
  /** The table to validate. */
  readonly tableId: Uuid;
  /** The ranges to build trees for. */
  readonly ranges: readonly TokenRange[];
  /** Whether only rows not yet repaired take part. */
  readonly incremental: boolean;
}

/** The Merkle tree of one range, as its leaves: the inner nodes are their XORs. */
export interface ValidationTree {
  /** The range the tree covers. */
  readonly range: TokenRange;
  /** Tree depth: the range is split into `2^depth` equal leaves. */
  readonly depth: number;
  /** `2^depth` leaf hashes of {@link MERKLE_HASH_BYTES} bytes each, in token order. */
  readonly leafHashes: Uint8Array;
}

/** `VALIDATION_RSP`: a replica's trees, or its failure to build them. */
export interface ValidationResponse {
  /** The repair session. */
  readonly sessionId: Uuid;
  /** The table validated. */
  readonly tableId: Uuid;
  /** Whether validation succeeded (a failure carries no trees). */
  readonly success: boolean;
  /** One tree per requested range. */
  readonly trees: readonly ValidationTree[];
}

/** `SYNC_REQ`: ask `source` to exchange these ranges with `destination`. */
export interface SyncRequest {
  /** The repair session. */
  readonly sessionId: Uuid;
  /** The table to sync. */
  readonly tableId: Uuid;
  /** The repair coordinator, to which `source` reports with `SYNC_RSP`. */
  readonly initiator: InetAddressAndPort;
  /** The node that streams (and receives this request). */
  readonly source: InetAddressAndPort;
  /** The node it streams with. */
  readonly destination: InetAddressAndPort;
  /** The ranges whose trees differ. */
  readonly ranges: readonly TokenRange[];
}

/** `SYNC_RSP`: how a sync between two replicas ended. */
export interface SyncResponse {
  /** The repair session. */
  readonly sessionId: Uuid;
  /** The table synced. */
  readonly tableId: Uuid;
  /** The node that streamed. */
  readonly source: InetAddressAndPort;
  /** The node it streamed with. */
  readonly destination: InetAddressAndPort;
  /** Whether the sync completed. */
  readonly success: boolean;
  /** Rows sent and received. */
  readonly rowsTransferred: number;
  /** Row bytes sent and received. */
  readonly bytesTransferred: number;
}

const TOKEN_RANGE_BYTES = 16;
const FLAG_SET = 0x01;
const MIN_TREE_BYTES = TOKEN_RANGE_BYTES + 1 + MERKLE_HASH_BYTES;

function rangesSize(ranges: readonly TokenRange[]): number {
  return unsignedVintSize(ranges.length) + ranges.length * TOKEN_RANGE_BYTES;
}

function writeRange(range: TokenRange, out: ByteWriter): void {
  checkInt64(range.left, "range left token");
  checkInt64(range.right, "range right token");
  out.writeInt64(range.left);
  out.writeInt64(range.right);
}

function readRange(input: ByteReader): TokenRange {
  const left = input.readInt64("range left token");
  return { left, right: input.readInt64("range right token") };
}

function writeRanges(ranges: readonly TokenRange[], out: ByteWriter): void {
  out.writeUnsignedVint(ranges.length);
  for (const range of ranges) writeRange(range, out);
}

function readRanges(input: ByteReader): TokenRange[] {
  const count = readVintCount(input, TOKEN_RANGE_BYTES, "token ranges");
  const ranges: TokenRange[] = [];
  for (let i = 0; i < count; i++) ranges.push(readRange(input));
  return ranges;
}

function readFlag(input: ByteReader, what: string): boolean {
  return (readFlags(input, FLAG_SET, what) & FLAG_SET) !== 0;
}

function leafBytes(depth: number): number {
  return 2 ** depth * MERKLE_HASH_BYTES;
}

function checkTree(tree: ValidationTree): void {
  if (!Number.isInteger(tree.depth) || tree.depth < 0 || tree.depth > MAX_MERKLE_TREE_DEPTH) {
    throw new RangeError(
      `Cannot write Merkle tree: depth ${tree.depth} is not in 0..${MAX_MERKLE_TREE_DEPTH}`,
    );
  }
  if (tree.leafHashes.length !== leafBytes(tree.depth)) {
    throw new RangeError(
      `Cannot write Merkle tree: depth ${tree.depth} needs ${
        leafBytes(tree.depth)
      } leaf bytes, got ${tree.leafHashes.length}`,
    );
  }
}

/** A single token range: two longs. */
export const tokenRangeSerializer: PayloadSerializer<TokenRange> = Object.freeze({
  serializedSize: () => TOKEN_RANGE_BYTES,
  write: (value: TokenRange, out: ByteWriter) => writeRange(value, out),
  read: (input: ByteReader) => readRange(input),
});

/** `VALIDATION_REQ` payload. */
export const validationRequestSerializer: PayloadSerializer<ValidationRequest> = Object.freeze({
  serializedSize(value: ValidationRequest): number {
    return 2 * UUID_SIZE_BYTES + 1 + rangesSize(value.ranges);
  },
  write(value: ValidationRequest, out: ByteWriter): void {
    writeUuid(value.sessionId, out);
    writeUuid(value.tableId, out);
    out.writeUint8(value.incremental ? FLAG_SET : 0);
    writeRanges(value.ranges, out);
  },
  read(input: ByteReader): ValidationRequest {
    const sessionId = readUuid(input, "session id");
    const tableId = readUuid(input, "table id");
    const incremental = readFlag(input, "validation flags");
    return { sessionId, tableId, ranges: readRanges(input), incremental };
  },
});

/** `VALIDATION_RSP` payload. */
export const validationResponseSerializer: PayloadSerializer<ValidationResponse> = Object
  .freeze({
    serializedSize(value: ValidationResponse): number {
      let size = 2 * UUID_SIZE_BYTES + 1 + unsignedVintSize(value.trees.length);
      for (const tree of value.trees) size += TOKEN_RANGE_BYTES + 1 + tree.leafHashes.length;
      return size;
    },
    write(value: ValidationResponse, out: ByteWriter): void {
      if (!value.success && value.trees.length > 0) {
        throw new RangeError("Cannot write validation response: a failure carries no trees");
      }
      for (const tree of value.trees) checkTree(tree);
      writeUuid(value.sessionId, out);
      writeUuid(value.tableId, out);
      out.writeUint8(value.success ? FLAG_SET : 0);
      out.writeUnsignedVint(value.trees.length);
      for (const tree of value.trees) {
        writeRange(tree.range, out);
        out.writeUint8(tree.depth);
        out.writeBytes(tree.leafHashes);
      }
    },
    read(input: ByteReader): ValidationResponse {
      const sessionId = readUuid(input, "session id");
      const tableId = readUuid(input, "table id");
      const success = readFlag(input, "validation flags");
      const count = readVintCount(input, MIN_TREE_BYTES, "Merkle trees");
      if (!success && count > 0) {
        throw new MalformedInputError(
          `Cannot read validation response: a failure carries ${count} trees`,
        );
      }
      const trees: ValidationTree[] = [];
      for (let i = 0; i < count; i++) {
        const range = readRange(input);
        const depth = input.readUint8("Merkle tree depth");
        if (depth > MAX_MERKLE_TREE_DEPTH) {
          throw new MalformedInputError(
            `Cannot read Merkle tree: depth ${depth} exceeds ${MAX_MERKLE_TREE_DEPTH}`,
          );
        }
        trees.push({ range, depth, leafHashes: input.readBytes(leafBytes(depth), "leaf hashes") });
      }
      return { sessionId, tableId, success, trees };
    },
  });

/** `SYNC_REQ` payload. */
export const syncRequestSerializer: PayloadSerializer<SyncRequest> = Object.freeze({
  serializedSize(value: SyncRequest, version: number): number {
    return 2 * UUID_SIZE_BYTES + inetAddressSize(value.initiator, version) +
      inetAddressSize(value.source, version) + inetAddressSize(value.destination, version) +
      rangesSize(value.ranges);
  },
  write(value: SyncRequest, out: ByteWriter, version: number): void {
    writeUuid(value.sessionId, out);
    writeUuid(value.tableId, out);
    writeInetAddress(value.initiator, out, version);
    writeInetAddress(value.source, out, version);
    writeInetAddress(value.destination, out, version);
    writeRanges(value.ranges, out);
  },
  read(input: ByteReader): SyncRequest {
    const sessionId = readUuid(input, "session id");
    const tableId = readUuid(input, "table id");
    const initiator = readInetAddress(input);
    const source = readInetAddress(input);
    const destination = readInetAddress(input);
    return { sessionId, tableId, initiator, source, destination, ranges: readRanges(input) };
  },
});

/** `SYNC_RSP` payload. */
export const syncResponseSerializer: PayloadSerializer<SyncResponse> = Object.freeze({
  serializedSize(value: SyncResponse, version: number): number {
    return 2 * UUID_SIZE_BYTES + inetAddressSize(value.source, version) +
      inetAddressSize(value.destination, version) + 1 + unsignedVintSize(value.rowsTransferred) +
      unsignedVintSize(value.bytesTransferred);
  },
  write(value: SyncResponse, out: ByteWriter, version: number): void {
    checkUnsigned(value.rowsTransferred, "rows transferred");
    checkUnsigned(value.bytesTransferred, "bytes transferred");
    writeUuid(value.sessionId, out);
    writeUuid(value.tableId, out);
    writeInetAddress(value.source, out, version);
    writeInetAddress(value.destination, out, version);
    out.writeUint8(value.success ? FLAG_SET : 0);
    out.writeUnsignedVint(value.rowsTransferred);
    out.writeUnsignedVint(value.bytesTransferred);
  },
  read(input: ByteReader): SyncResponse {
    const sessionId = readUuid(input, "session id");
    const tableId = readUuid(input, "table id");
    const source = readInetAddress(input);
    const destination = readInetAddress(input);
    const success = readFlag(input, "sync flags");
    const rowsTransferred = input.readUnsignedVint("rows transferred");
    const bytesTransferred = input.readUnsignedVint("bytes transferred");
    return { sessionId, tableId, source, destination, success, rowsTransferred, bytesTransferred };
  },
});
