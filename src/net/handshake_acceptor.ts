/**
 * The acceptor's side of the handshake over a connection (PROTOCOL.md §6): read Initiate,
 * choose the version, answer Accept (or, to a legacy Initiate, its max version, then read
 * ConfirmOutboundPre40), and hand over the bytes that followed.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { FramingKind } from "../wire/frame_encoder.ts";
import {
  type ConnectionType,
  encodeAccept,
  encodeLegacyReply,
  negotiateAcceptorVersion,
  parseConfirmOutboundPre40,
  parseInitiate,
} from "../wire/handshake.ts";
import { IncompatibleVersionError } from "../wire/errors.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { HandshakeReader } from "./_handshake_io.ts";
import type { Connection } from "./transport.ts";

/** Options of {@link acceptHandshake}. */
export interface AcceptHandshakeOptions {
  /** A freshly accepted connection. */
  readonly connection: Connection;
  /** Our lowest version. */
  readonly minVersion: number;
  /** Our highest version. */
  readonly maxVersion: number;
  /** Our listening address (its port stands in for a legacy peer's, which carries none). */
  readonly localAddress: InetAddressAndPort;
  /** Injected time. */
  readonly clock: Clock;
  /** The whole handshake must finish within this. */
  readonly timeoutMs: number;
}

/** An accepted connection, ready for its message stream. */
export interface AcceptedConnection {
  /** The link it carries. */
  readonly type: ConnectionType;
  /** Whether it is a streaming connection. */
  readonly streaming: boolean;
  /** Framing of a version-12 stream. */
  readonly framing: FramingKind;
  /** Version the stream uses. */
  readonly version: number;
  /** The peer's highest version (what we should ask for when we connect to it). */
  readonly peerMaxVersion: number;
  /** The peer's listening address. */
  readonly from: InetAddressAndPort;
  /** Bytes that arrived after the handshake: the start of the message stream. */
  readonly leftover: Uint8Array;
}

/**
 * Runs the acceptor's handshake.
 * @throws {IncompatibleVersionError} after closing, when no version is shared
 * @throws {HandshakeError} / {InvalidMagicError} / {ConnectionClosedError} on bad or no input
 */
export async function acceptHandshake(
  options: AcceptHandshakeOptions,
): Promise<AcceptedConnection> {
  const { connection, minVersion, maxVersion } = options;
  const reader = new HandshakeReader(connection, options.clock, options.timeoutMs);
  const initiate = await reader.read(parseInitiate, "Initiate");
  if (initiate.from !== undefined) {
    let version: number;
    try {
      version = negotiateAcceptorVersion(
        minVersion,
        maxVersion,
        initiate.minVersion,
        initiate.maxVersion,
      );
    } catch (error) {
      // Tell the peer our range before closing, as Cassandra does, so it can log why.
      await connection.write(encodeAccept({ maxVersion, useVersion: maxVersion })).catch(() => {});
      throw error;
    }
    await connection.write(encodeAccept({ maxVersion, useVersion: version }));
    return {
      type: initiate.type,
      streaming: initiate.streaming,
      framing: initiate.framing,
      version,
      peerMaxVersion: initiate.maxVersion,
      from: initiate.from,
      leftover: reader.leftover,
    };
  }
  // Legacy Initiate: answer our max, then the initiator confirms with its address.
  if (initiate.requestVersion < minVersion || initiate.streaming) {
    throw new IncompatibleVersionError(
      `Cannot accept a legacy connection at version ${initiate.requestVersion}: our range is [${minVersion}, ${maxVersion}]`,
    );
  }
  await connection.write(encodeLegacyReply(maxVersion));
  const confirm = await reader.read(parseConfirmOutboundPre40, "ConfirmOutboundPre40");
  const version = Math.min(initiate.requestVersion, maxVersion);
  return {
    type: initiate.type,
    streaming: false,
    framing: initiate.framing,
    version,
    peerMaxVersion: Math.min(confirm.maxVersion, 255),
    // The pre-4.0 form has no port: peers of a legacy cluster share one storage port.
    from: { host: confirm.from.host, port: options.localAddress.port },
    leftover: reader.leftover,
  };
}
