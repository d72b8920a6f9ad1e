/**
 * The initiator's side of the handshake over a connection (PROTOCOL.md §6): send Initiate, read
 * the acceptor's answer, and for a legacy answer send ConfirmOutboundPre40.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { FramingKind } from "../wire/frame_encoder.ts";
import {
  encodeConfirmOutboundPre40,
  encodeInitiate,
  type InitiatorOutcome,
  interpretAcceptReply,
  parseAcceptReply,
} from "../wire/handshake.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { HandshakeReader } from "./_handshake_io.ts";
import type { LinkType } from "./outbound_link.ts";
import type { Connection } from "./transport.ts";

/** Options of {@link initiateHandshake}. */
export interface InitiateHandshakeOptions {
  /** A freshly opened connection. */
  readonly connection: Connection;
  /** Which link it will carry. */
  readonly type: LinkType;
  /** Framing to ask for. */
  readonly framing: FramingKind;
  /** Version to ask for: the peer's last known, else our max. */
  readonly requestVersion: number;
  /** Our lowest version. */
  readonly minVersion: number;
  /** Our highest version. */
  readonly maxVersion: number;
  /** Our listening address. */
  readonly from: InetAddressAndPort;
  /** Injected time. */
  readonly clock: Clock;
  /** The whole handshake must finish within this. */
  readonly timeoutMs: number;
}

/**
 * Runs the initiator's handshake.
 * @returns success (the connection is ready at `version`), retry (reconnect at `peerVersion`),
 * or incompatible
 * @throws {HandshakeError} / {ConnectionClosedError} / a transport error
 */
export async function initiateHandshake(
  options: InitiateHandshakeOptions,
): Promise<InitiatorOutcome> {
  const { connection, requestVersion, minVersion, maxVersion } = options;
  await connection.write(encodeInitiate({
    type: options.type,
    framing: options.framing,
    streaming: false,
    requestVersion,
    minVersion,
    maxVersion,
    from: options.from,
  }));
  const reader = new HandshakeReader(connection, options.clock, options.timeoutMs);
  const reply = await reader.read((bytes) => parseAcceptReply(bytes, requestVersion), "Accept");
  const outcome = interpretAcceptReply(reply, requestVersion, minVersion, maxVersion);
  if (outcome.kind === "success" && outcome.legacy) {
    await connection.write(
      encodeConfirmOutboundPre40({ maxVersion, from: { host: options.from.host, port: 0 } }),
    );
  }
  return outcome;
}
