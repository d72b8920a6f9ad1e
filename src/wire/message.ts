/**
 * The message model shared by both messaging versions (PROTOCOL.md §5): header fields, flags,
 * params and a typed payload.
 *
 * @module
 */

import type { InetAddressAndPort } from "./inet_address.ts";
import type { Verb } from "./verb.ts";

/** Messaging version 11: the legacy, unframed format. */
export const VERSION_11 = 11;
/** Messaging version 12: the current, framed format. */
export const VERSION_12 = 12;
/** Lowest version this code speaks. */
export const MIN_SUPPORTED_VERSION = VERSION_11;
/** Highest version this code speaks. */
export const MAX_SUPPORTED_VERSION = VERSION_12;

/** Message flag bits. Append-only: these are part of the wire protocol. */
export const MessageFlag = {
  /** The receiver answers `FAILURE_RSP` when handling fails. */
  CALL_BACK_ON_FAILURE: 1 << 0,
  /** Track repaired data (CASSANDRA-14145). */
  TRACK_REPAIRED_DATA: 1 << 1,
} as const;

/** Param ids. Append-only: these are part of the wire protocol. */
export const ParamType = {
  FORWARD_TO: 0,
  RESPOND_TO: 1,
  TRACE_SESSION: 5,
  TRACE_TYPE: 6,
} as const;

/** One forwarding target of `FORWARD_TO`: where to send a copy and the id it carries there. */
export interface ForwardTarget {
  /** The node to forward to. */
  readonly address: InetAddressAndPort;
  /** Message id of the forwarded copy. */
  readonly id: number;
}

/** The params a message may carry; absent fields are not sent. */
export interface MessageParams {
  /** Copies to forward to other replicas. */
  readonly forwardTo?: readonly ForwardTarget[];
  /** Where the response goes, when not to the sender. */
  readonly respondTo?: InetAddressAndPort;
  /** Tracing session id (16-byte UUID). */
  readonly traceSession?: Uint8Array;
  /** Tracing type (NONE 0, QUERY 1, REPAIR 2). */
  readonly traceType?: number;
}

/** One message: header fields and its payload. */
export interface Message<T = unknown> {
  /** Request id; a response reuses its request's id. Never 0. */
  readonly id: number;
  /** The verb, which owns the payload's serializer. */
  readonly verb: Verb<T>;
  /** Creation time, epoch ms. Only its low 32 bits travel. */
  readonly createdAtMs: number;
  /** Expiry, epoch ms. A response reuses its request's expiry. */
  readonly expiresAtMs: number;
  /** {@link MessageFlag} bits. */
  readonly flags: number;
  /** Params, or `undefined` for none (the common case). */
  readonly params: MessageParams | undefined;
  /** The payload, of the verb's type. */
  readonly payload: T;
}
