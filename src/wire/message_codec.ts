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
  formatIpAddress,
  type InetAddressAndPort,
  inetAddressSize,
  parseIpAddress,
  readInetAddress,
  writeInetAddress,
} from "./inet_address.ts";
import {
  type ForwardTarget,
  type Message,
  MessageFlag,
  type MessageParams,
  ParamType,
  VERSION_12,
} from "./message.ts";
import {
  LEGACY_NAMES,
  MessageHeader,
  PROTOCOL_MAGIC,
  reconstructCreatedAtMs,
  scanMessageHeader,
} from "./message_header.ts";
import { unsignedVintSize } from "./vint.ts";
import type { VerbLookup } from "./verb.ts";

/** Expiry used for version-11 messages whose verb has no timeout of its own. */
export const DEFAULT_LEGACY_TIMEOUT_MS = 10_000;

const TWO_32 = 0x1_0000_0000;
const textEncoder = new TextEncoder();
const LEGACY_NAME_BYTES = {
  CALL_BACK_ON_FAILURE: textEncoder.encode(LEGACY_NAMES.CALL_BACK_ON_FAILURE),
  TRACK_REPAIRED_DATA: textEncoder.encode(LEGACY_NAMES.TRACK_REPAIRED_DATA),
  FORWARD_TO: textEncoder.encode(LEGACY_NAMES.FORWARD_TO),
  RESPOND_TO: textEncoder.encode(LEGACY_NAMES.RESPOND_TO),
  TRACE_SESSION: textEncoder.encode(LEGACY_NAMES.TRACE_SESSION),
  TRACE_TYPE: textEncoder.encode(LEGACY_NAMES.TRACE_TYPE),
};

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
// Params

function forwardToSize(targets: readonly ForwardTarget[], version: number): number {
  if (version >= VERSION_12) {
    let size = unsignedVintSize(targets.length);
    for (const t of targets) size += inetAddressSize(t.address, version) + unsignedVintSize(t.id);
    return size;
  }
  let size = 4;
  for (const t of targets) size += inetAddressSize(t.address, version) + 4;
  return size;
}

function writeForwardTo(targets: readonly ForwardTarget[], out: ByteWriter, version: number): void {
  if (version >= VERSION_12) {
    out.writeUnsignedVint(targets.length);
    for (const t of targets) {
      writeInetAddress(t.address, out, version);
      out.writeUnsignedVint(t.id);
    }
    return;
  }
  out.writeInt32(targets.length);
  for (const t of targets) {
    writeInetAddress(t.address, out, version);
    out.writeInt32(t.id);
  }
}

function readForwardTo(input: ByteReader, version: number, legacyPort: number): ForwardTarget[] {
  const v12 = version >= VERSION_12;
  const count = v12 ? input.readUnsignedVint("forward count") : input.readInt32("forward count");
  // Each target takes at least 6 bytes: refuse counts the input cannot hold before allocating.
  if (count < 0 || count * 6 > input.remaining) {
    throw new MalformedInputError(`Cannot read FORWARD_TO: impossible target count ${count}`);
  }
  const targets: ForwardTarget[] = [];
  for (let i = 0; i < count; i++) {
    const address = readInetAddress(input, legacyPort);
    const id = v12 ? input.readUnsignedVint("forward id") : input.readUint32("forward id");
    targets.push({ address, id });
  }
  return targets;
}

/** The params of `params` in wire order, as [id, legacy name, size, writer] entries. */
function paramEntries(
  params: MessageParams | undefined,
  version: number,
): Array<[number, Uint8Array, number, (out: ByteWriter) => void]> {
  const entries: Array<[number, Uint8Array, number, (out: ByteWriter) => void]> = [];
  if (params === undefined) return entries;
  if (params.forwardTo !== undefined) {
    const targets = params.forwardTo;
    entries.push([
      ParamType.FORWARD_TO,
      LEGACY_NAME_BYTES.FORWARD_TO,
      forwardToSize(targets, version),
      (out) => writeForwardTo(targets, out, version),
    ]);
  }
  if (params.respondTo !== undefined) {
    const address = params.respondTo;
    if (version >= VERSION_12) {
      entries.push([
        ParamType.RESPOND_TO,
        LEGACY_NAME_BYTES.RESPOND_TO,
        inetAddressSize(address, version),
        (out) => writeInetAddress(address, out, version),
      ]);
    } else {
      // Version 11 writes the bare address bytes; the param length gives their size.
      const bytes = parseIpAddress(address.host);
      entries.push([
        ParamType.RESPOND_TO,
        LEGACY_NAME_BYTES.RESPOND_TO,
        bytes.length,
        (out) => out.writeBytes(bytes),
      ]);
    }
  }
  if (params.traceSession !== undefined) {
    const session = params.traceSession;
    if (session.length !== 16) throw new RangeError("Cannot write TRACE_SESSION: need 16 bytes");
    entries.push([
      ParamType.TRACE_SESSION,
      LEGACY_NAME_BYTES.TRACE_SESSION,
      16,
      (out) => out.writeBytes(session),
    ]);
  }
  if (params.traceType !== undefined) {
    const type = params.traceType;
    entries.push([
      ParamType.TRACE_TYPE,
      LEGACY_NAME_BYTES.TRACE_TYPE,
      1,
      (out) => out.writeUint8(type),
    ]);
  }
  return entries;
}

type MutableParams = {
  -readonly [K in keyof MessageParams]: MessageParams[K];
};

function readParamValue(
  params: MutableParams,
  id: number,
  input: ByteReader,
  version: number,
  legacyPort: number,
): void {
  switch (id) {
    case ParamType.FORWARD_TO:
      params.forwardTo = readForwardTo(input, version, legacyPort);
      return;
    case ParamType.RESPOND_TO:
      if (version >= VERSION_12) params.respondTo = readInetAddress(input, legacyPort);
      else {
        const length = input.remaining;
        if (length !== 4 && length !== 16) {
          throw new MalformedInputError(`Cannot read RESPOND_TO: ${length} address bytes`);
        }
        params.respondTo = { host: formatIpAddress(input.readBytes(length)), port: legacyPort };
      }
      return;
    case ParamType.TRACE_SESSION:
      params.traceSession = input.readBytes(16, "trace session").slice();
      return;
    case ParamType.TRACE_TYPE:
      params.traceType = input.readUint8("trace type");
      return;
  }
}

function legacyParamId(name: string): number | undefined {
  switch (name) {
    case LEGACY_NAMES.FORWARD_TO:
      return ParamType.FORWARD_TO;
    case LEGACY_NAMES.RESPOND_TO:
      return ParamType.RESPOND_TO;
    case LEGACY_NAMES.TRACE_SESSION:
      return ParamType.TRACE_SESSION;
    case LEGACY_NAMES.TRACE_TYPE:
      return ParamType.TRACE_TYPE;
  }
  return undefined;
}

function decodeParams(
  buf: Uint8Array,
  start: number,
  end: number,
  count: number,
  version: number,
  legacyPort: number,
): MessageParams | undefined {
  const params: MutableParams = {};
  let seen = false;
  const input = new ByteReader(buf, start, end);
  for (let i = 0; i < count; i++) {
    let id: number | undefined;
    let length: number;
    if (version >= VERSION_12) {
      id = input.readUnsignedVint("param id");
      length = input.readUnsignedVint("param length");
    } else {
      id = legacyParamId(input.readUtf16Length("param name"));
      length = input.readInt32("param length");
    }
    const valueStart = input.pos;
    input.need(length, "param value");
    if (id !== undefined) {
      const value = new ByteReader(buf, valueStart, valueStart + length);
      readParamValue(params, id, value, version, legacyPort);
      if (
        params.forwardTo || params.respondTo || params.traceSession ||
        params.traceType !== undefined
      ) {
        seen = true;
      }
      if (value.remaining !== 0 && id !== ParamType.RESPOND_TO) {
        throw new MalformedInputError(
          `Cannot read param ${id}: ${value.remaining} bytes left over`,
        );
      }
    }
    // Unknown ids (and the v11 flag params) are skipped by length.
    input.pos = valueStart + length;
  }
  return seen ? params : undefined;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Serialized size of the message's params section (after the count) at `version`. */
function paramsSize(
  entries: Array<[number, Uint8Array, number, (out: ByteWriter) => void]>,
  version: number,
): number {
  let size = 0;
  for (const [id, name, length] of entries) {
    size += version >= VERSION_12
      ? unsignedVintSize(id) + unsignedVintSize(length) + length
      : 2 + name.length + 4 + length;
  }
  return size;
}

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
