/**
 * Basic payload serializers shared by many verbs (PROTOCOL.md §5, §8): no payload, raw bytes,
 * the `FAILURE_RSP` reason and the `PING_REQ` connection type, plus the bounded field readers the
 * structured payloads (gossip, data, schema, repair) are built from.
 *
 * Readers never trust a length or count from the wire: a count that the remaining bytes could not
 * hold is a {@link MalformedInputError} raised before anything is allocated, and every other short
 * read is a {@link TruncatedInputError} from {@link ByteReader}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserializePayload, serializePayload } from "./payload_serializer.ts";
 * import { failureReasonSerializer, RequestFailureReason } from "./payload_serializers.ts";
 * const v12 = serializePayload(failureReasonSerializer, RequestFailureReason.TIMEOUT, 12);
 * assert.deepEqual([...v12], [2]);
 * const v11 = serializePayload(failureReasonSerializer, RequestFailureReason.TIMEOUT, 11);
 * assert.deepEqual([...v11], [0, 2]);
 * // A code this node does not know reads as UNKNOWN.
 * assert.equal(deserializePayload(failureReasonSerializer, Uint8Array.of(42), 12), 0);
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";
import type { PayloadSerializer } from "./payload_serializer.ts";
import { unsignedVintSize } from "./vint.ts";

/** First messaging version that writes the failure reason as a uvint (earlier: a short). */
const VERSION_40 = 12;

// ignoreBOM: a value that starts with U+FEFF keeps it (the default would strip it silently).
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const textEncoder = new TextEncoder();

/** No payload (ECHO_REQ, responses that only acknowledge): writes and reads nothing. */
export const emptySerializer: PayloadSerializer<undefined> = Object.freeze({
  serializedSize: () => 0,
  write: () => {},
  // Reads nothing, so deserializePayload's leftover check rejects a non-empty payload.
  read: () => undefined,
});

/** The whole payload as bytes; reading returns a view into the message buffer, not a copy. */
export const rawBytesSerializer: PayloadSerializer<Uint8Array> = Object.freeze({
  serializedSize: (value: Uint8Array) => value.length,
  write: (value: Uint8Array, out: ByteWriter) => out.writeBytes(value),
  read: (input: ByteReader) => input.readBytes(input.remaining, "raw payload"),
});

/**
 * Why a replica failed a request, carried by `FAILURE_RSP`. Append-only: these codes are part of
 * the wire protocol; never renumber or reuse one.
 *
 * Codes 0–3 are Cassandra 4.0's. Codes 4–15 are left for Cassandra's later codes so that a
 * future mapping never collides. Ringwire's own start at 16:
 * - `OVERLOADED`: the replica shed the request (a queue, capacity or rate bound was exceeded);
 *   the coordinator may try another replica.
 * - `STORAGE_FAILURE`: the local store failed (disk full, I/O or SQLite error).
 * - `INVALID_REQUEST`: the payload decoded but breaks a rule of the receiver (a value too large,
 *   a key out of this replica's ranges); retrying the same request elsewhere will not help.
 * - `NOT_READY`: the node is starting, bootstrapping or draining and does not serve this verb yet.
 */
export const RequestFailureReason = {
  UNKNOWN: 0,
  READ_TOO_MANY_TOMBSTONES: 1,
  TIMEOUT: 2,
  INCOMPATIBLE_SCHEMA: 3,
  OVERLOADED: 16,
  STORAGE_FAILURE: 17,
  INVALID_REQUEST: 18,
  NOT_READY: 19,
} as const;
Object.freeze(RequestFailureReason);

/** One {@link RequestFailureReason} code. */
export type RequestFailureReason = typeof RequestFailureReason[keyof typeof RequestFailureReason];

const knownFailureReasons: ReadonlySet<number> = new Set(Object.values(RequestFailureReason));

/** The reason with wire code `code`, or `UNKNOWN` for a code this node does not know. */
export function failureReasonFromCode(code: number | bigint): RequestFailureReason {
  const n = Number(code);
  return knownFailureReasons.has(n) ? n as RequestFailureReason : RequestFailureReason.UNKNOWN;
}

/** `FAILURE_RSP` payload: the reason code as a uvint (version 12) or a 2-byte short (11). */
export const failureReasonSerializer: PayloadSerializer<RequestFailureReason> = Object.freeze({
  serializedSize(value: RequestFailureReason, version: number): number {
    return version >= VERSION_40 ? unsignedVintSize(value) : 2;
  },
  write(value: RequestFailureReason, out: ByteWriter, version: number): void {
    if (!knownFailureReasons.has(value)) {
      throw new RangeError(`Cannot write failure reason: ${value} is not a known code`);
    }
    if (version >= VERSION_40) out.writeUnsignedVint(value);
    else out.writeUint16(value);
  },
  read(input: ByteReader, version: number): RequestFailureReason {
    // Read wide so that any code, however large, maps to UNKNOWN instead of overflowing.
    return failureReasonFromCode(
      version >= VERSION_40
        ? input.readUnsignedVintBig("failure reason")
        : input.readUint16("failure reason"),
    );
  },
});

/** Smallest connection type id a `PING_REQ` may name (1 urgent, 2 small, 3 large). */
const MIN_PING_CONNECTION_TYPE = 1;
/** Largest connection type id a `PING_REQ` may name. */
const MAX_PING_CONNECTION_TYPE = 3;

/**
 * `PING_REQ` payload: one byte, the id of the connection type being checked (the handshake's
 * ids, PROTOCOL.md §6: 1 urgent, 2 small, 3 large). Other ids are malformed.
 */
export const pingSerializer: PayloadSerializer<number> = Object.freeze({
  serializedSize: () => 1,
  write(value: number, out: ByteWriter): void {
    if (!isPingConnectionType(value)) {
      throw new RangeError(`Cannot write ping: connection type ${value} is not 1, 2 or 3`);
    }
    out.writeUint8(value);
  },
  read(input: ByteReader): number {
    const value = input.readUint8("ping connection type");
    if (!isPingConnectionType(value)) {
      throw new MalformedInputError(`Cannot read ping: connection type ${value} is not 1, 2 or 3`);
    }
    return value;
  },
});

function isPingConnectionType(value: number): boolean {
  return Number.isInteger(value) && value >= MIN_PING_CONNECTION_TYPE &&
    value <= MAX_PING_CONNECTION_TYPE;
}

// ---------------------------------------------------------------------------------------------
// Field helpers for structured payloads.

/** Throws unless `count` items of at least `minItemBytes` each fit in what `input` has left. */
export function checkCount(
  count: number | bigint,
  minItemBytes: number,
  input: ByteReader,
  what: string,
): number {
  if (count < 0) throw new MalformedInputError(`Cannot read ${what}: negative count ${count}`);
  // Compare as bigint so that an absurd 64-bit count cannot lose precision.
  if (BigInt(count) * BigInt(minItemBytes) > BigInt(input.remaining)) {
    throw new MalformedInputError(
      `Cannot read ${what}: a count of ${count} needs at least ${
        BigInt(count) * BigInt(minItemBytes)
      } bytes but ${input.remaining} remain`,
    );
  }
  return Number(count);
}

/** Reads a 4-byte signed count, refusing one the remaining bytes could not hold. */
export function readInt32Count(input: ByteReader, minItemBytes: number, what: string): number {
  return checkCount(input.readInt32(`${what} count`), minItemBytes, input, what);
}

/** Reads a uvint count, refusing one the remaining bytes could not hold. */
export function readVintCount(input: ByteReader, minItemBytes: number, what: string): number {
  return checkCount(input.readUnsignedVintBig(`${what} count`), minItemBytes, input, what);
}

/** Reads a uvint length then that many bytes (a view), refusing lengths above `maxBytes`. */
export function readBoundedBytes(input: ByteReader, maxBytes: number, what: string): Uint8Array {
  const length = input.readUnsignedVintBig(`${what} length`);
  if (length > BigInt(maxBytes)) {
    throw new MalformedInputError(
      `Cannot read ${what}: its length ${length} exceeds the maximum of ${maxBytes} bytes`,
    );
  }
  return input.readBytes(Number(length), what);
}

/** Reads a uvint length then a UTF-8 string, refusing lengths above `maxBytes`. */
export function readBoundedString(input: ByteReader, maxBytes: number, what: string): string {
  const bytes = readBoundedBytes(input, maxBytes, what);
  try {
    return textDecoder.decode(bytes);
  } catch (cause) {
    throw new MalformedInputError(`Cannot read ${what}: invalid UTF-8`, { cause });
  }
}

/** Writes a uvint length then the bytes, refusing more than `maxBytes`. */
export function writeBoundedBytes(
  bytes: Uint8Array,
  maxBytes: number,
  out: ByteWriter,
  what: string,
): void {
  if (bytes.length > maxBytes) {
    throw new RangeError(
      `Cannot write ${what}: ${bytes.length} bytes exceed the maximum of ${maxBytes}`,
    );
  }
  out.writeBytesWithVintLength(bytes);
}

/** Writes a uvint length then the UTF-8 string, refusing more than `maxBytes`. */
export function writeBoundedString(
  value: string,
  maxBytes: number,
  out: ByteWriter,
  what: string,
): void {
  writeBoundedBytes(textEncoder.encode(value), maxBytes, out, what);
}

/** Size of a uvint-length-prefixed byte field. */
export function bytesWithVintLengthSize(length: number): number {
  return unsignedVintSize(length) + length;
}

/** Size of a uvint-length-prefixed UTF-8 string. */
export function stringWithVintLengthSize(value: string): number {
  return bytesWithVintLengthSize(utf8ByteLength(value));
}

/** Size of a string in Java `writeUTF` form (2-byte length, then UTF-8), as ByteWriter writes. */
export function utf16LengthStringSize(value: string): number {
  return 2 + utf8ByteLength(value);
}

/** Number of bytes of `value` in UTF-8 (lone surrogates count as U+FFFD, as TextEncoder does). */
export function utf8ByteLength(value: string): number {
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < value.length) {
      const d = value.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Throws a RangeError unless `value` is a 32-bit signed integer (a Java `int`). */
export function checkInt32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
    throw new RangeError(`Cannot write ${what}: ${value} is not a 32-bit signed integer`);
  }
}

/** Throws a RangeError unless `value` is a signed 64-bit integer (a Java `long`). */
export function checkInt64(value: bigint, what: string): void {
  if (BigInt.asIntN(64, value) !== value) {
    throw new RangeError(`Cannot write ${what}: ${value} is not a 64-bit signed integer`);
  }
}

/** Throws a RangeError unless `value` is a non-negative safe integer (a uvint field). */
export function checkUnsigned(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Cannot write ${what}: ${value} is not a non-negative safe integer`);
  }
}

/** Reads a flags byte, refusing bits outside `knownMask` (set by a format this node predates). */
export function readFlags(input: ByteReader, knownMask: number, what: string): number {
  const flags = input.readUint8(what);
  if ((flags & ~knownMask) !== 0) {
    throw new MalformedInputError(
      `Cannot read ${what}: unknown bits 0x${(flags & ~knownMask).toString(16)} are set`,
    );
  }
  return flags;
}
