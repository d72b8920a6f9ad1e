/**
 * Message params (PROTOCOL.md §5) in both versions: `FORWARD_TO`, `RESPOND_TO`,
 * `TRACE_SESSION` and `TRACE_TYPE`. Version 12 writes `id` uvint · `length` uvint · value;
 * version 11 writes a named param (2-byte name length, name, int length, value) and encodes
 * addresses without ports. Unknown params are skipped by length.
 *
 * @module
 */

import { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";
import {
  formatIpAddress,
  inetAddressSize,
  parseIpAddress,
  readInetAddress,
  writeInetAddress,
} from "./inet_address.ts";
import { type ForwardTarget, type MessageParams, ParamType, VERSION_12 } from "./message.ts";
import { LEGACY_NAMES } from "./message_header.ts";
import { unsignedVintSize } from "./vint.ts";

const textEncoder = new TextEncoder();
/** The v11 names of flags and params, as bytes. */
export const LEGACY_NAME_BYTES = {
  CALL_BACK_ON_FAILURE: textEncoder.encode(LEGACY_NAMES.CALL_BACK_ON_FAILURE),
  TRACK_REPAIRED_DATA: textEncoder.encode(LEGACY_NAMES.TRACK_REPAIRED_DATA),
  FORWARD_TO: textEncoder.encode(LEGACY_NAMES.FORWARD_TO),
  RESPOND_TO: textEncoder.encode(LEGACY_NAMES.RESPOND_TO),
  TRACE_SESSION: textEncoder.encode(LEGACY_NAMES.TRACE_SESSION),
  TRACE_TYPE: textEncoder.encode(LEGACY_NAMES.TRACE_TYPE),
};

/** One param ready to write: id, v11 name, value size, value writer. */
export type ParamEntry = [number, Uint8Array, number, (out: ByteWriter) => void];

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
export function paramEntries(
  params: MessageParams | undefined,
  version: number,
): ParamEntry[] {
  const entries: ParamEntry[] = [];
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

/** Reads `count` params from `buf[start, end)`; `undefined` when none is known. */
export function decodeParams(
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

/** Serialized size of the message's params section (after the count) at `version`. */
export function paramsSize(
  entries: ParamEntry[],
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
