/**
 * What the gossiper tells its subscribers, and its counters.
 *
 * Events, in the order Cassandra's `IEndpointStateChangeSubscriber` gets them: `join` when an
 * endpoint is first seen, `restart` when it comes back with a higher generation, `change` for
 * every application state that changed (after `join`/`restart`, one per state), `alive` after
 * an ECHO round trip, `dead` on conviction, shutdown or restart, and `left` when it announced
 * `LEFT` or `removed`, or was removed here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { GossipEvent } from "./gossip_events.ts";
 * const seen: string[] = [];
 * const listener = (event: GossipEvent) => seen.push(`${event.type} ${event.key}`);
 * listener({ type: "alive", address: { host: "10.0.0.2", port: 7000 }, key: "10.0.0.2:7000" });
 * assert.deepEqual(seen, ["alive 10.0.0.2:7000"]);
 * ```
 *
 * @module
 */

import type { InetAddressAndPort } from "../wire/inet_address.ts";

/** Why a node was marked down. */
export type DeadReason = "phi" | "refused" | "shutdown" | "restart" | "left";

interface EventBase {
  /** The endpoint concerned. */
  readonly address: InetAddressAndPort;
  /** Its `host:port`. */
  readonly key: string;
}

/** A membership event. */
export type GossipEvent =
  | EventBase & { readonly type: "join"; readonly generation: number }
  | EventBase & { readonly type: "restart"; readonly generation: number }
  | EventBase & { readonly type: "alive" }
  | EventBase & { readonly type: "dead"; readonly reason: DeadReason }
  | EventBase & { readonly type: "change"; readonly ordinal: number; readonly value: string }
  | EventBase & { readonly type: "left" };

/** Receives membership events; it must not throw (a throw is reported, not propagated). */
export type GossipListener = (event: GossipEvent) => void;

/** Counters of one gossiper. */
export class GossipMetrics {
  /** Gossip rounds run. */
  rounds = 0;
  /** SYNs sent (rounds, unreachable and seed targets, shadow rounds). */
  synsSent = 0;
  /** SYNs received. */
  synsReceived = 0;
  /** SYNs ignored for another cluster name or partitioner. */
  mismatchedSyns = 0;
  /** ACKs sent. */
  acksSent = 0;
  /** ACKs received. */
  acksReceived = 0;
  /** ACK2s sent. */
  ack2sSent = 0;
  /** ACK2s received. */
  ack2sReceived = 0;
  /** ECHO requests sent. */
  echoesSent = 0;
  /** ECHO requests that failed or timed out. */
  echoesFailed = 0;
  /** GOSSIP_SHUTDOWN messages sent. */
  shutdownsSent = 0;
  /** GOSSIP_SHUTDOWN messages received. */
  shutdownsReceived = 0;
  /** Liveness probes sent (ADR 0003). */
  probesSent = 0;
  /** Convictions by phi. */
  phiConvictions = 0;
  /** Convictions by refused connects (ADR 0003). */
  refusedConvictions = 0;
  /** Endpoint states held back by the byte bound of one message (sent in a later round). */
  deferredStates = 0;
  /** Gossip messages ignored for naming more endpoints than `maxEndpoints`. */
  rejectedMessages = 0;
  /** Remote states rejected (generation from the far future, endpoint limit reached). */
  rejectedStates = 0;
  /** Errors thrown by subscribers or probes. */
  listenerErrors = 0;
}
