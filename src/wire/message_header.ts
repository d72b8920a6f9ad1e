/**
 * Reading a message's header without deserializing it (PROTOCOL.md §5, "size without
 * deserializing"): total size, id, verb, flags and expiry, from bounded reads of its first bytes.
 *
 * A receiver uses this to check a message against `internode_max_message_size`, to drop it
 * unread when it has expired or its verb is unknown, and to learn a large message's size from
 * its first frame. Every read is bounded by `limit`; "not enough bytes yet" is a `false` or -1,
 * never an exception.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inferMessageSize } from "./message_header.ts";
 * // ECHO_REQ, id 1, createdAt 0x12345678, expiresIn 10000, no params, empty payload.
 * const bytes = Uint8Array.of(0x01, 0x12, 0x34, 0x56, 0x78, 0xa7, 0x10, 0x1f, 0, 0, 0);
 * assert(inferMessageSize(bytes, 0, bytes.length, 12, 1 << 20) === 11);
 * assert(inferMessageSize(bytes, 0, 5, 12, 1 << 20) === -1);
 * ```
 *
 * @module
 */

import { InvalidMagicError, MalformedInputError, MessageTooLargeError } from "./errors.ts";
import { MessageFlag, VERSION_12 } from "./message.ts";
import { getUnsignedVint, vintLengthAt } from "./vint.ts";

/** The protocol magic `CA 55 2D FA` that starts every legacy message and every handshake. */
export const PROTOCOL_MAGIC = 0xca552dfa;

/** How far a sender's clock may be from ours before its `createdAt` is ignored: 15 minutes. */
export const MAX_CLOCK_DRIFT_MS = 15 * 60 * 1000;

const TWO_32 = 0x1_0000_0000;

/** The legacy (v11) param names of flags and params, in wire order of importance. */
export const LEGACY_NAMES = {
  CALL_BACK_ON_FAILURE: "CAL_BAC",
  TRACK_REPAIRED_DATA: "TrackRepaired",
  FORWARD_TO: "FWD_TO",
  RESPOND_TO: "FWD_FRM",
  TRACE_SESSION: "TraceSession",
  TRACE_TYPE: "TraceType",
} as const;

const textEncoder = new TextEncoder();
const CAL_BAC = textEncoder.encode(LEGACY_NAMES.CALL_BACK_ON_FAILURE);
const TRACK_REPAIRED = textEncoder.encode(LEGACY_NAMES.TRACK_REPAIRED_DATA);

/** Header fields of one message, filled by {@link scanMessageHeader}; reusable. */
export class MessageHeader {
  /** Message id. */
  id = 0;
  /** Verb id as sent. */
  verbId = 0;
  /** Flag bits (from params in version 11). */
  flags = 0;
  /** The low 32 bits of the sender's creation time, as sent. */
  createdAtLow32 = 0;
  /** Expiry relative to creation, in ms; -1 in version 11, which does not send it. */
  expiresInMs = -1;
  /** Number of params. */
  paramCount = 0;
  /** Offset of the first param, relative to the message start. */
  paramsOffset = 0;
  /** Offset of the payload, relative to the message start. */
  payloadOffset = 0;
  /** Payload size in bytes. */
  payloadSize = 0;
  /** Whole message size in bytes. */
  sizeBytes = 0;
  /** Version 11 only: offset of the sender address (length byte), relative to the start. */
  legacyFromOffset = 0;
}

/**
 * Reads the header of the message at `offset`, never past `limit`.
 * @returns `false` when more bytes are needed to reach the payload-size field
 * @throws {InvalidMagicError} when a version-11 message does not start with the magic
 * @throws {MalformedInputError} when a field is impossible (negative length, bad address)
 */
export function scanMessageHeader(
  buf: Uint8Array,
  offset: number,
  limit: number,
  version: number,
  out: MessageHeader,
): boolean {
  return version >= VERSION_12
    ? scanHeaderV12(buf, offset, limit, out)
    : scanHeaderV11(buf, offset, limit, out);
}

function scanHeaderV12(
  buf: Uint8Array,
  offset: number,
  limit: number,
  out: MessageHeader,
): boolean {
  let p = offset;
  let n = vintLengthAt(buf, p, limit);
  if (n < 0) return false;
  out.id = n === 1 ? buf[p]! : getUnsignedVint(buf, p);
  p += n;
  if (p + 4 > limit) return false;
  out.createdAtLow32 =
    ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>>
    0;
  p += 4;
  if ((n = vintLengthAt(buf, p, limit)) < 0) return false;
  out.expiresInMs = getUnsignedVint(buf, p);
  p += n;
  if ((n = vintLengthAt(buf, p, limit)) < 0) return false;
  out.verbId = n === 1 ? buf[p]! : getUnsignedVint(buf, p);
  p += n;
  if ((n = vintLengthAt(buf, p, limit)) < 0) return false;
  out.flags = n === 1 ? buf[p]! : getUnsignedVint(buf, p);
  p += n;
  if ((n = vintLengthAt(buf, p, limit)) < 0) return false;
  const paramCount = n === 1 ? buf[p]! : getUnsignedVint(buf, p);
  p += n;
  out.paramCount = paramCount;
  out.paramsOffset = p - offset;
  for (let i = 0; i < paramCount; i++) {
    if ((n = vintLengthAt(buf, p, limit)) < 0) return false;
    p += n;
    if ((n = vintLengthAt(buf, p, limit)) < 0) return false;
    const length = getUnsignedVint(buf, p);
    p += n + length;
    if (p > limit) return false;
  }
  if ((n = vintLengthAt(buf, p, limit)) < 0) return false;
  const payloadSize = n === 1 ? buf[p]! : getUnsignedVint(buf, p);
  p += n;
  out.payloadOffset = p - offset;
  out.payloadSize = payloadSize;
  out.sizeBytes = p - offset + payloadSize;
  out.legacyFromOffset = 0;
  return true;
}

function readInt32(buf: Uint8Array, p: number): number {
  return (buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
}

function nameEquals(buf: Uint8Array, p: number, length: number, name: Uint8Array): boolean {
  if (length !== name.length) return false;
  for (let i = 0; i < length; i++) if (buf[p + i] !== name[i]) return false;
  return true;
}

function scanHeaderV11(
  buf: Uint8Array,
  offset: number,
  limit: number,
  out: MessageHeader,
): boolean {
  let p = offset;
  if (p + 4 > limit) {
    // Check the magic bytes we have, so garbage is refused as early as possible.
    for (let i = 0; p + i < limit; i++) {
      if (buf[p + i] !== ((PROTOCOL_MAGIC >>> (24 - 8 * i)) & 0xff)) throw badMagic(buf, p, limit);
    }
    return false;
  }
  if (readInt32(buf, p) >>> 0 !== PROTOCOL_MAGIC) throw badMagic(buf, p, limit);
  p += 4;
  if (p + 9 > limit) return false;
  out.id = readInt32(buf, p) >>> 0;
  out.createdAtLow32 = readInt32(buf, p + 4) >>> 0;
  p += 8;
  out.legacyFromOffset = p - offset;
  const addressLength = buf[p]!;
  if (addressLength !== 4 && addressLength !== 16) {
    throw new MalformedInputError(
      `Cannot read legacy message: sender address length ${addressLength} is not 4 or 16`,
    );
  }
  p += 1 + addressLength;
  if (p + 8 > limit) return false;
  const verbId = readInt32(buf, p);
  const paramCount = readInt32(buf, p + 4);
  if (verbId < 0 || paramCount < 0) {
    throw new MalformedInputError(
      `Cannot read legacy message: negative verb (${verbId}) or param count (${paramCount})`,
    );
  }
  out.verbId = verbId;
  out.paramCount = paramCount;
  p += 8;
  out.paramsOffset = p - offset;
  let flags = 0;
  for (let i = 0; i < paramCount; i++) {
    if (p + 2 > limit) return false;
    const nameLength = (buf[p]! << 8) | buf[p + 1]!;
    const nameStart = p + 2;
    p = nameStart + nameLength;
    if (p + 4 > limit) return false;
    const valueLength = readInt32(buf, p);
    if (valueLength < 0) {
      throw new MalformedInputError(`Cannot read legacy message: negative param length`);
    }
    if (nameEquals(buf, nameStart, nameLength, CAL_BAC)) flags |= MessageFlag.CALL_BACK_ON_FAILURE;
    else if (nameEquals(buf, nameStart, nameLength, TRACK_REPAIRED)) {
      flags |= MessageFlag.TRACK_REPAIRED_DATA;
    }
    p += 4 + valueLength;
    if (p > limit) return false;
  }
  if (p + 4 > limit) return false;
  const payloadSize = readInt32(buf, p);
  if (payloadSize < 0) {
    throw new MalformedInputError(`Cannot read legacy message: negative payload size`);
  }
  p += 4;
  out.flags = flags;
  out.expiresInMs = -1;
  out.payloadOffset = p - offset;
  out.payloadSize = payloadSize;
  out.sizeBytes = p - offset + payloadSize;
  return true;
}

function badMagic(buf: Uint8Array, p: number, limit: number): InvalidMagicError {
  const seen = Array.from(
    buf.subarray(p, Math.min(limit, p + 4)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join(" ");
  return new InvalidMagicError(
    `Cannot read legacy message: expected magic ca 55 2d fa, got ${seen}`,
  );
}

const scratch = new MessageHeader();

/**
 * Total size of the message at `offset` from its first bytes, or -1 when more are needed.
 * @throws {MessageTooLargeError} when the size, or the header alone, exceeds `maxMessageSizeBytes`
 * @throws {InvalidMagicError} / {MalformedInputError} on garbage
 */
export function inferMessageSize(
  buf: Uint8Array,
  offset: number,
  limit: number,
  version: number,
  maxMessageSizeBytes: number,
  out: MessageHeader = scratch,
): number {
  if (!scanMessageHeader(buf, offset, limit, version, out)) {
    // A header that keeps going past the size limit is itself oversized.
    if (limit - offset > maxMessageSizeBytes) {
      throw new MessageTooLargeError(limit - offset, maxMessageSizeBytes);
    }
    return -1;
  }
  if (out.sizeBytes > maxMessageSizeBytes) {
    throw new MessageTooLargeError(out.sizeBytes, maxMessageSizeBytes);
  }
  return out.sizeBytes;
}

/**
 * Rebuilds a full epoch-ms creation time from its low 32 bits and our clock, across the 2^32 ms
 * wrap. A time more than 15 minutes from ours is not trusted: our time is used instead.
 */
export function reconstructCreatedAtMs(createdAtLow32: number, nowMs: number): number {
  const nowLow = nowMs % TWO_32;
  let candidate = nowMs - nowLow + createdAtLow32;
  if (candidate - nowMs > TWO_32 / 2) candidate -= TWO_32;
  else if (nowMs - candidate > TWO_32 / 2) candidate += TWO_32;
  return Math.abs(candidate - nowMs) > MAX_CLOCK_DRIFT_MS ? nowMs : candidate;
}

/**
 * The expiry of a received message: `min(createdAt, now) + expiresIn`, where version 11 (no
 * expiry on the wire) uses the verb's timeout as `expiresIn`.
 */
export function expiresAtMsOf(
  header: MessageHeader,
  nowMs: number,
  legacyTimeoutMs: number,
): number {
  const createdAtMs = reconstructCreatedAtMs(header.createdAtLow32, nowMs);
  const expiresInMs = header.expiresInMs >= 0 ? header.expiresInMs : legacyTimeoutMs;
  return Math.min(createdAtMs, nowMs) + expiresInMs;
}
