/**
 * Message serialization for messaging versions 12 and 11 (PROTOCOL.md §5).
 *
 * Version 12: `id` uvint · `createdAt` int (low 32 bits) · `expiresIn` uvint · `verb` uvint ·
 * `flags` uvint · params · `payloadSize` uvint · payload. Version 11: magic · `id` int ·
 * `createdAt` int · sender address · `verb` int · params (flags travel as params) ·
 * `payloadSize` int · payload.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, encodeMessage } from "./message_codec.ts";
 * import type { Verb } from "./verb.ts";
 * const ECHO_REQ: Verb<undefined> = {
 *   name: "ECHO_REQ", id: 31, priority: 0, timeoutMs: 10_000, responseVerbId: 91,
 *   serializer: { serializedSize: () => 0, write: () => {}, read: () => undefined },
 * };
 * const message = {
 *   id: 1, verb: ECHO_REQ, createdAtMs: 0x12345678, expiresAtMs: 0x12345678 + 10000,
 *   flags: 0, params: undefined, payload: undefined,
 * };
 * const bytes = encodeMessage(message, 12); // 01 12 34 56 78 a7 10 1f 00 00 00
 * assert.equal(bytes.length, 11);
 * const verbs = { byId: (id: number) => (id === 31 ? ECHO_REQ : undefined) };
 * const back = decodeMessage(bytes, 0, bytes.length, 12, { verbs, nowMs: 0x12345678 });
 * assert.equal(back.verb, ECHO_REQ);
 * ```
 *
 * @module
 */

import { ByteReader } from "./byte_reader.ts";
import { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError, TruncatedInputError, UnknownVerbError } from "./errors.ts";
import {
  type InetAddressAndPort,
  inetAddressSize,
  readInetAddress,
  writeInetAddress,
} from "./inet_address.ts";
import { type Message, MessageFlag, VERSION_12 } from "./message.ts";
import {
  MessageHeader,
  PROTOCOL_MAGIC,
  reconstructCreatedAtMs,
  scanMessageHeader,
} from "./message_header.ts";
import { unsignedVintSize } from "./vint.ts";
import { decodeParams, LEGACY_NAME_BYTES, paramEntries, paramsSize } from "./message_params.ts";
import type { VerbLookup } from "./verb.ts";

/** Expiry used for version-11 messages whose verb has no timeout of its own. */
export const DEFAULT_LEGACY_TIMEOUT_MS = 10_000;

const TWO_32 = 0x1_0000_0000;

/** Options for writing a message. */
export interface EncodeMessageOptions {
  /** Version 11 only: the sender's address, written into every legacy message. */
  readonly from?: InetAddressAndPort;
}

/** Options for reading a message. */
export interface DecodeMessageOptions {
  /** Verbs this node knows. */
  readonly verbs: VerbLookup;
  /** Our clock, epoch ms: rebuilds `createdAt` and computes expiry. */
  readonly nowMs: number;
  /** Version 11 carries no ports: the port given to decoded addresses (default 0). */
  readonly legacyPort?: number;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function legacyFlagCount(flags: number): number {
  return (flags & MessageFlag.CALL_BACK_ON_FAILURE ? 1 : 0) +
    (flags & MessageFlag.TRACK_REPAIRED_DATA ? 1 : 0);
}

function expiresInOf(message: Message): number {
  return Math.max(0, message.expiresAtMs - message.createdAtMs);
}

/** Serialized size in bytes of `message` at `version` (header, params and payload). */
export function messageSerializedSize(
  message: Message,
  version: number,
  options?: EncodeMessageOptions,
): number {
  const payloadSize = message.verb.serializer.serializedSize(message.payload, version);
  const entries = message.params === undefined ? undefined : paramEntries(message.params, version);
  if (version >= VERSION_12) {
    return unsignedVintSize(message.id) + 4 + unsignedVintSize(expiresInOf(message)) +
      unsignedVintSize(message.verb.id) + unsignedVintSize(message.flags) +
      unsignedVintSize(entries === undefined ? 0 : entries.length) +
      (entries === undefined ? 0 : paramsSize(entries, version)) +
      unsignedVintSize(payloadSize) + payloadSize;
  }
  // Version 11: magic, id, createdAt, sender, verb, param count, params, payload size.
  const from = options?.from ?? { host: "0.0.0.0", port: 0 };
  let size = 4 + 4 + 4 + inetAddressSize(from, version) + 4 + 4 + 4 + payloadSize;
  if (entries !== undefined) size += paramsSize(entries, version);
  if (message.flags & MessageFlag.CALL_BACK_ON_FAILURE) {
    size += legacyFlagSize(LEGACY_NAME_BYTES.CALL_BACK_ON_FAILURE);
  }
  if (message.flags & MessageFlag.TRACK_REPAIRED_DATA) {
    size += legacyFlagSize(LEGACY_NAME_BYTES.TRACK_REPAIRED_DATA);
  }
  return size;
}

/**
 * Writes `message` at the writer's position in the format of `version`.
 * Version 11 needs `options.from`, the sender address every legacy message carries.
 */
export function writeMessage(
  message: Message,
  out: ByteWriter,
  version: number,
  options?: EncodeMessageOptions,
): void {
  const serializer = message.verb.serializer;
  const payloadSize = serializer.serializedSize(message.payload, version);
  if (version >= VERSION_12) {
    out.writeUnsignedVint(message.id);
    out.writeInt32(message.createdAtMs % TWO_32);
    out.writeUnsignedVint(expiresInOf(message));
    out.writeUnsignedVint(message.verb.id);
    out.writeUnsignedVint(message.flags);
    if (message.params === undefined) out.writeUint8(0);
    else {
      const entries = paramEntries(message.params, version);
      out.writeUnsignedVint(entries.length);
      for (const [id, , length, write] of entries) {
        out.writeUnsignedVint(id);
        out.writeUnsignedVint(length);
        write(out);
      }
    }
    out.writeUnsignedVint(payloadSize);
  } else {
    const from = options?.from;
    if (from === undefined) throw new Error("writeMessage() at version 11 needs options.from");
    if (message.id > 0xffff_ffff) {
      throw new RangeError(`Cannot write message at version 11: id ${message.id} exceeds 32 bits`);
    }
    out.writeInt32(PROTOCOL_MAGIC);
    out.writeInt32(message.id);
    out.writeInt32(message.createdAtMs % TWO_32);
    writeInetAddress(from, out, version);
    out.writeInt32(message.verb.id);
    const entries = paramEntries(message.params, version);
    out.writeInt32(entries.length + legacyFlagCount(message.flags));
    if (message.flags & MessageFlag.CALL_BACK_ON_FAILURE) {
      writeLegacyFlag(out, LEGACY_NAME_BYTES.CALL_BACK_ON_FAILURE);
    }
    if (message.flags & MessageFlag.TRACK_REPAIRED_DATA) {
      writeLegacyFlag(out, LEGACY_NAME_BYTES.TRACK_REPAIRED_DATA);
    }
    for (const [, name, length, write] of entries) {
      out.writeUint16(name.length);
      out.writeBytes(name);
      out.writeInt32(length);
      write(out);
    }
    out.writeInt32(payloadSize);
  }
  const payloadStart = out.pos;
  out.ensure(payloadSize);
  serializer.write(message.payload, out, version);
  if (out.pos - payloadStart !== payloadSize) {
    throw new Error(
      `serializer of ${message.verb.name} wrote ${
        out.pos - payloadStart
      } bytes, announced ${payloadSize}`,
    );
  }
}

/** A v11 flag param: name length, name, value length 1, value `00`. */
function legacyFlagSize(name: Uint8Array): number {
  return 2 + name.length + 4 + 1;
}

function writeLegacyFlag(out: ByteWriter, name: Uint8Array): void {
  out.writeUint16(name.length);
  out.writeBytes(name);
  out.writeInt32(1);
  out.writeUint8(0);
}

/** Serializes `message` into a new buffer of exactly its size. */
export function encodeMessage(
  message: Message,
  version: number,
  options?: EncodeMessageOptions,
): Uint8Array {
  const size = messageSerializedSize(message, version, options);
  const out = new ByteWriter(size, 0, size);
  writeMessage(message, out, version, options);
  if (out.pos !== size) throw new Error(`message wrote ${out.pos} bytes, sized ${size}`);
  return out.buf;
}

// ---------------------------------------------------------------------------------------------
// Decoding

const decodeHeader = new MessageHeader();
const EMPTY = new Uint8Array(0);
/** Free payload readers (a serializer may decode a nested message, so more than one). */
const payloadReaders: ByteReader[] = [];

/**
 * Reads the whole message in `buf[offset, end)` (exactly one message) and deserializes its
 * payload with its verb's serializer.
 * @throws {UnknownVerbError} when the verb id is not known
 * @throws {WireError} on truncated or malformed bytes
 */
export function decodeMessage<T = unknown>(
  buf: Uint8Array,
  offset: number,
  end: number,
  version: number,
  options: DecodeMessageOptions,
): Message<T> {
  const header = decodeHeader;
  if (!scanMessageHeader(buf, offset, end, version, header)) {
    throw new TruncatedInputError(
      `Cannot read message: its header runs past ${end - offset} bytes`,
    );
  }
  return decodeScannedMessage(buf, offset, end, header, version, options);
}

/**
 * Like {@link decodeMessage} for a message whose header a reader has already scanned into
 * `header` (the inbound path: saves scanning it twice).
 */
export function decodeScannedMessage<T = unknown>(
  buf: Uint8Array,
  offset: number,
  end: number,
  header: MessageHeader,
  version: number,
  options: DecodeMessageOptions,
): Message<T> {
  if (header.sizeBytes !== end - offset) {
    throw new (header.sizeBytes > end - offset ? TruncatedInputError : MalformedInputError)(
      `Cannot read message: it is ${header.sizeBytes} bytes but ${end - offset} were given`,
    );
  }
  const verb = options.verbs.byId(header.verbId);
  if (verb === undefined) throw new UnknownVerbError(header.verbId);
  const params = header.paramCount === 0 ? undefined : decodeParams(
    buf,
    offset + header.paramsOffset,
    offset + header.payloadOffset,
    header.paramCount,
    version,
    options.legacyPort ?? 0,
  );
  // Readers are pooled: one allocation (and DataView) less per message on the hot path.
  const input = payloadReaders.pop() ?? new ByteReader(buf);
  input.reset(buf, offset + header.payloadOffset, end);
  let payload: T;
  try {
    payload = verb.serializer.read(input, version) as T;
    if (input.pos !== end) {
      throw new MalformedInputError(
        `Cannot read ${verb.name} payload: ${end - input.pos} bytes left over`,
      );
    }
  } finally {
    input.reset(EMPTY, 0, 0);
    payloadReaders.push(input);
  }
  const nowMs = options.nowMs;
  const createdAtMs = reconstructCreatedAtMs(header.createdAtLow32, nowMs);
  const expiresInMs = header.expiresInMs >= 0
    ? header.expiresInMs
    : verb.timeoutMs ?? DEFAULT_LEGACY_TIMEOUT_MS;
  return {
    id: header.id,
    verb: verb as Message<T>["verb"],
    createdAtMs,
    expiresAtMs: Math.min(createdAtMs, nowMs) + expiresInMs,
    flags: header.flags,
    params,
    payload,
  };
}

/** Version 11 only: the sender address written in the legacy message at `offset`. */
export function readLegacySender(
  buf: Uint8Array,
  offset: number,
  end: number,
  legacyPort = 0,
): InetAddressAndPort {
  const header = new MessageHeader();
  if (!scanMessageHeader(buf, offset, end, 11, header)) {
    throw new TruncatedInputError("Cannot read legacy sender: header incomplete");
  }
  return readInetAddress(new ByteReader(buf, offset + header.legacyFromOffset, end), legacyPort);
}
