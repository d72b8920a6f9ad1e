/**
 * The connection handshake (PROTOCOL.md §6): Initiate, Accept, the legacy reply and
 * ConfirmOutboundPre40, with the flag packing and the version negotiation rules of both sides.
 * Parsers are incremental: given the bytes received so far they return `undefined` until a
 * whole message is there, then the message and how many bytes it took (what follows belongs to
 * the message stream).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeInitiate, parseInitiate } from "./handshake.ts";
 * const bytes = encodeInitiate({
 *   type: "small", framing: "crc", streaming: false, requestVersion: 12, minVersion: 10,
 *   maxVersion: 12, from: { host: "127.0.0.1", port: 7000 },
 * });
 * // ca 55 2d fa 0c 0a 0c 12 06 7f 00 00 01 1b 58 58 e7 26 56
 * assert.equal(bytes.length, 19);
 * assert.equal(parseInitiate(bytes)?.value.from?.port, 7000);
 * assert.equal(parseInitiate(bytes.subarray(0, 10)), undefined);
 * ```
 *
 * @module
 */

import { ByteReader } from "./byte_reader.ts";
import { ByteWriter } from "./byte_writer.ts";
import { seededCrc32 } from "./crc32.ts";
import {
  HandshakeError,
  IncompatibleVersionError,
  InvalidMagicError,
  MalformedInputError,
} from "./errors.ts";
import type { FramingKind } from "./frame_encoder.ts";
import {
  type InetAddressAndPort,
  inetAddressSize,
  readInetAddress,
  writeInetAddress,
} from "./inet_address.ts";
import { VERSION_12 } from "./message.ts";
import { PROTOCOL_MAGIC } from "./message_header.ts";

/** Messaging connection types (flag bits 0–1). Append-only: part of the wire protocol. */
export const ConnectionTypeId = { urgent: 1, small: 2, large: 3 } as const;
/** A messaging connection type. */
export type ConnectionType = keyof typeof ConnectionTypeId;

/** Framing ids (flag bits 2 and 4). Append-only: part of the wire protocol. */
export const FramingId: Readonly<Record<FramingKind, number>> = { unprotected: 0, lz4: 1, crc: 2 };

/** The initiator's opening message. */
export interface Initiate {
  /** Which link this connection carries (ignored for streaming). */
  readonly type: ConnectionType;
  /** Framing asked for. */
  readonly framing: FramingKind;
  /** A streaming connection (flag bit 3). */
  readonly streaming: boolean;
  /** Version the initiator asks for (the peer's last known version, else its own max). */
  readonly requestVersion: number;
  /** Lowest version the initiator accepts (0 in a legacy Initiate). */
  readonly minVersion: number;
  /** Highest version the initiator accepts (0 in a legacy Initiate). */
  readonly maxVersion: number;
  /** The initiator's listening address; present only in a version-12 Initiate. */
  readonly from?: InetAddressAndPort;
}

/** What an incremental parser returns once a whole message has arrived. */
export interface Parsed<T> {
  /** The message. */
  readonly value: T;
  /** Bytes it took. */
  readonly consumed: number;
}

/** Whether an Initiate is the version-12 form (with address and CRC). */
export function isModernInitiate(initiate: Initiate): boolean {
  return initiate.requestVersion >= VERSION_12 && initiate.maxVersion >= VERSION_12;
}

/** Packs the flags int of an Initiate. */
export function packInitiateFlags(initiate: Initiate): number {
  const framing = FramingId[initiate.framing];
  const modern = isModernInitiate(initiate);
  return ((initiate.streaming ? 0 : ConnectionTypeId[initiate.type]) |
    ((framing & 1) << 2) |
    ((initiate.streaming ? 1 : 0) << 3) |
    (((framing >> 1) & 1) << 4) |
    ((initiate.requestVersion & 0xff) << 8) |
    ((modern ? initiate.minVersion & 0xff : 0) << 16) |
    ((modern ? initiate.maxVersion & 0xff : 0) << 24)) >>> 0;
}

/** Unpacks an Initiate's flags int (without the address). */
export function unpackInitiateFlags(flags: number): Omit<Initiate, "from"> {
  const typeId = flags & 3;
  const framingId = ((flags >>> 2) & 1) | (((flags >>> 4) & 1) << 1);
  const framing = (Object.keys(FramingId) as FramingKind[]).find((k) => FramingId[k] === framingId);
  const streaming = ((flags >>> 3) & 1) === 1;
  const type = (Object.keys(ConnectionTypeId) as ConnectionType[]).find((k) =>
    ConnectionTypeId[k] === typeId
  );
  if (framing === undefined) {
    throw new MalformedInputError(`Cannot read handshake: framing id ${framingId} is unknown`);
  }
  if (type === undefined && !streaming) {
    throw new MalformedInputError(`Cannot read handshake: connection type ${typeId} is unknown`);
  }
  return {
    type: type ?? "large",
    framing,
    streaming,
    requestVersion: (flags >>> 8) & 0xff,
    minVersion: (flags >>> 16) & 0xff,
    maxVersion: (flags >>> 24) & 0xff,
  };
}

/** Encodes an Initiate: magic, flags, then (version 12 only) address and seeded CRC32. */
export function encodeInitiate(initiate: Initiate): Uint8Array {
  const modern = isModernInitiate(initiate);
  if (modern && initiate.from === undefined) {
    throw new Error("encodeInitiate(): a version-12 Initiate needs `from`");
  }
  const size = 8 + (modern ? inetAddressSize(initiate.from!, VERSION_12) + 4 : 0);
  const out = new ByteWriter(size, 0, size);
  out.writeInt32(PROTOCOL_MAGIC);
  out.writeInt32(packInitiateFlags(initiate));
  if (modern) {
    writeInetAddress(initiate.from!, out, VERSION_12);
    out.writeInt32(seededCrc32(out.buf.subarray(0, out.pos)));
  }
  return out.buf;
}

function checkMagic(bytes: Uint8Array, what: string): void {
  const have = Math.min(4, bytes.length);
  for (let i = 0; i < have; i++) {
    if (bytes[i] !== ((PROTOCOL_MAGIC >>> (24 - 8 * i)) & 0xff)) {
      throw new InvalidMagicError(`Cannot read ${what}: it does not start with ca 55 2d fa`);
    }
  }
}

function readInt(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) |
    bytes[offset + 3]!) >>> 0;
}

/**
 * Parses an Initiate from the start of `bytes` (the acceptor's side).
 * @throws {InvalidMagicError} / {HandshakeError} (bad CRC) / {MalformedInputError}
 */
export function parseInitiate(bytes: Uint8Array): Parsed<Initiate> | undefined {
  checkMagic(bytes, "Initiate");
  if (bytes.length < 8) return undefined;
  const fields = unpackInitiateFlags(readInt(bytes, 4));
  const modern = fields.requestVersion >= VERSION_12 && fields.maxVersion >= VERSION_12;
  if (!modern) {
    // Legacy: magic and flags only, and min/max always travel as 0. Non-zero bits there mean
    // a damaged modern Initiate (its versions hit by a bit flip): refuse it, do not downgrade.
    if (fields.minVersion !== 0 || fields.maxVersion !== 0) {
      throw new HandshakeError(
        `Cannot read Initiate: request version ${fields.requestVersion} with min/max ${fields.minVersion}/${fields.maxVersion} is neither legacy nor current`,
      );
    }
    return { value: fields, consumed: 8 };
  }
  if (bytes.length < 9) return undefined;
  const addressLength = bytes[8]!;
  if (addressLength !== 6 && addressLength !== 18) {
    throw new MalformedInputError(`Cannot read Initiate: address length byte ${addressLength}`);
  }
  const crcOffset = 9 + addressLength;
  if (bytes.length < crcOffset + 4) return undefined;
  if (readInt(bytes, crcOffset) !== seededCrc32(bytes.subarray(0, crcOffset))) {
    throw new HandshakeError("Cannot read Initiate: CRC mismatch");
  }
  const from = readInetAddress(new ByteReader(bytes, 8, crcOffset));
  return { value: { ...fields, from }, consumed: crcOffset + 4 };
}

/** The acceptor's answer to a version-12 Initiate. */
export interface Accept {
  /** The acceptor's highest version. */
  readonly maxVersion: number;
  /** The version the connection will use. */
  readonly useVersion: number;
}

/** Encodes a version-12 Accept: max, use, seeded CRC32 of those 8 bytes. */
export function encodeAccept(accept: Accept): Uint8Array {
  const out = new ByteWriter(12, 0, 12);
  out.writeInt32(accept.maxVersion);
  out.writeInt32(accept.useVersion);
  out.writeInt32(seededCrc32(out.buf.subarray(0, 8)));
  return out.buf;
}

/** Encodes the reply to a legacy Initiate: the acceptor's max version as one int. */
export function encodeLegacyReply(maxVersion: number): Uint8Array {
  const out = new ByteWriter(4, 0, 4);
  out.writeInt32(maxVersion);
  return out.buf;
}

/** The initiator's view of the acceptor's answer: an Accept, or a legacy reply (useVersion 0). */
export interface AcceptReply {
  /** The acceptor's highest version. */
  readonly maxVersion: number;
  /** The agreed version; 0 for a legacy reply. */
  readonly useVersion: number;
}

/**
 * Parses the acceptor's answer. As Cassandra does, the first int is the acceptor's max; when it
 * is below 12, or our own request was below 12, that int alone is the (legacy) reply.
 * @throws {HandshakeError} on a bad CRC
 */
export function parseAcceptReply(
  bytes: Uint8Array,
  ourRequestVersion: number,
): Parsed<AcceptReply> | undefined {
  if (bytes.length < 4) return undefined;
  const maxVersion = readInt(bytes, 0);
  if (maxVersion < VERSION_12 || ourRequestVersion < VERSION_12) {
    return { value: { maxVersion, useVersion: 0 }, consumed: 4 };
  }
  if (bytes.length < 12) return undefined;
  if (readInt(bytes, 8) !== seededCrc32(bytes.subarray(0, 8))) {
    throw new HandshakeError("Cannot read Accept: CRC mismatch");
  }
  return { value: { maxVersion, useVersion: readInt(bytes, 4) }, consumed: 12 };
}

/** The third message of a legacy handshake: the initiator's max and its address (no port). */
export interface ConfirmOutboundPre40 {
  /** The initiator's highest version. */
  readonly maxVersion: number;
  /** The initiator's address (port 0: the pre-4.0 form carries none). */
  readonly from: InetAddressAndPort;
}

/** Encodes ConfirmOutboundPre40. */
export function encodeConfirmOutboundPre40(confirm: ConfirmOutboundPre40): Uint8Array {
  const size = 4 + inetAddressSize(confirm.from, 11);
  const out = new ByteWriter(size, 0, size);
  out.writeInt32(confirm.maxVersion);
  writeInetAddress(confirm.from, out, 11);
  return out.buf;
}

/** Parses ConfirmOutboundPre40. */
export function parseConfirmOutboundPre40(
  bytes: Uint8Array,
): Parsed<ConfirmOutboundPre40> | undefined {
  if (bytes.length < 5) return undefined;
  const addressLength = bytes[4]!;
  if (addressLength !== 4 && addressLength !== 16) {
    throw new MalformedInputError(
      `Cannot read ConfirmOutboundPre40: address length byte ${addressLength}`,
    );
  }
  if (bytes.length < 5 + addressLength) return undefined;
  const from = readInetAddress(new ByteReader(bytes, 4, 5 + addressLength));
  return { value: { maxVersion: readInt(bytes, 0), from }, consumed: 5 + addressLength };
}

/**
 * The acceptor's choice: `max(ourMin, min(ourMax, peerMax))`.
 * @throws {IncompatibleVersionError} when the two ranges do not overlap
 */
export function negotiateAcceptorVersion(
  ourMin: number,
  ourMax: number,
  peerMin: number,
  peerMax: number,
): number {
  if (peerMin > ourMax || peerMax < ourMin) {
    throw new IncompatibleVersionError(
      `Cannot agree on a messaging version: ours [${ourMin}, ${ourMax}], theirs [${peerMin}, ${peerMax}]`,
    );
  }
  return Math.max(ourMin, Math.min(ourMax, peerMax));
}

/** What the initiator does with the acceptor's answer. */
export type InitiatorOutcome =
  | { readonly kind: "success"; readonly version: number; readonly legacy: boolean }
  | { readonly kind: "retry"; readonly peerVersion: number }
  | { readonly kind: "incompatible"; readonly error: IncompatibleVersionError };

/**
 * The initiator's rules (after Cassandra's `OutboundConnectionInitiator`): a v12 Accept
 * succeeds when its version lies within ours; a legacy reply is incompatible below our minimum,
 * succeeds when our request already was the best version both speak, and otherwise asks for an
 * immediate retry at that version (lower after meeting an old peer, higher after it upgraded).
 */
export function interpretAcceptReply(
  reply: AcceptReply,
  requestVersion: number,
  ourMin: number,
  ourMax: number,
): InitiatorOutcome {
  const incompatible = (why: string): InitiatorOutcome => ({
    kind: "incompatible",
    error: new IncompatibleVersionError(`Cannot agree on a messaging version: ${why}`),
  });
  if (reply.useVersion > 0) {
    if (reply.useVersion < ourMin || reply.useVersion > ourMax) {
      return incompatible(`the peer chose ${reply.useVersion}, ours is [${ourMin}, ${ourMax}]`);
    }
    return { kind: "success", version: reply.useVersion, legacy: false };
  }
  if (reply.maxVersion < ourMin) {
    return incompatible(`the peer's max is ${reply.maxVersion}, our min is ${ourMin}`);
  }
  // The best version both speak; if we already asked for it, the legacy handshake holds.
  const best = Math.min(reply.maxVersion, ourMax);
  if (best === requestVersion) {
    return { kind: "success", version: requestVersion, legacy: requestVersion < VERSION_12 };
  }
  return { kind: "retry", peerVersion: best };
}
