/**
 * The inbound side of a messaging service: accepts connections, runs the acceptor's handshake,
 * and serves each connection with an {@link InboundLink} that draws on its peer's receive
 * reserve and the node's global one. Keeps the `internode_inbound` counters per peer.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import type { Message } from "../wire/message.ts";
import type { VerbLookup } from "../wire/verb.ts";
import { ClosedBeforeHandshakeError } from "./errors.ts";
import { acceptHandshake } from "./handshake_acceptor.ts";
import { InboundLink } from "./inbound_link.ts";
import { InboundMetrics, type InboundRow } from "./link_metrics.ts";
import type { MessagingConfig } from "./messaging_config.ts";
import { CapacitySignal, ReceiveCapacity } from "./receive_capacity.ts";
import { EndpointAndGlobalReserve, ResourceLimit } from "./resource_limit.ts";
import type { Connection, Listener } from "./transport.ts";

/** First wait after a failed accept; it doubles up to {@link ACCEPT_BACKOFF_MS_MAX}. */
const ACCEPT_BACKOFF_MS_MIN = 10;
/** Longest wait between accept attempts after failures. */
const ACCEPT_BACKOFF_MS_MAX = 1000;

/** What the inbound server needs from its messaging service. */
export interface InboundServerOptions {
  /** Our listening address (a legacy peer's port is taken to be ours). */
  readonly localAddress: () => InetAddressAndPort;
  /** Injected time. */
  readonly clock: Clock;
  /** Bounds. */
  readonly config: MessagingConfig;
  /** Verbs this node knows. */
  readonly verbs: VerbLookup;
  /** A peer told us its highest version in a handshake. */
  readonly onPeerVersion: (peerKey: string, version: number) => void;
  /** Hands a received message on (a returned promise: wait, stop reading meanwhile). */
  readonly deliver: (
    message: Message,
    from: InetAddressAndPort,
    peerKey: string,
    sizeBytes: number,
    metrics: InboundMetrics,
    release: () => void,
  ) => undefined | Promise<void>;
  /** Answers request `id` from `from` with FAILURE_RSP(`reason`). */
  readonly respondFailure: (
    id: number,
    from: InetAddressAndPort,
    reason: number,
    expiresAtMs: number,
  ) => void;
  /** Errors with no one to answer (failed handshakes). */
  readonly onError: (error: unknown) => void;
}

interface PeerInbound {
  readonly metrics: InboundMetrics;
  readonly reserve: EndpointAndGlobalReserve;
  readonly links: Set<InboundLink>;
}

/** Accepts and serves inbound connections. */
export class InboundServer {
  readonly #options: InboundServerOptions;
  readonly #peers = new Map<string, PeerInbound>();
  readonly #global: ResourceLimit;
  readonly #capacitySignal = new CapacitySignal();
  /** Accept errors survived (each reported, then retried after a backoff). */
  acceptErrors = 0;
  /** Connections closed by the peer before a byte of handshake (probes, port checks). */
  probeConnections = 0;
  #acceptLoop: Promise<void> | undefined;
  readonly #closing = new AbortController();
  #closed = false;

  constructor(options: InboundServerOptions) {
    this.#options = options;
    this.#global = new ResourceLimit(options.config.receiveQueueReserveGlobalCapacityBytes);
  }

  /** Starts accepting on `listener`. */
  start(listener: Listener): void {
    this.#acceptLoop = this.#accept(listener);
  }

  /** Stops accepting (the caller closes the listener) and closes every inbound connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    await this.#acceptLoop;
    for (const peer of this.#peers.values()) for (const link of peer.links) link.close();
  }

  /** `internode_inbound`: one row per peer that has connected to us. */
  metrics(): Map<string, InboundRow> {
    const rows = new Map<string, InboundRow>();
    for (const [peerKey, peer] of this.#peers) rows.set(peerKey, peer.metrics.toRow());
    return rows;
  }

  async #accept(listener: Listener): Promise<void> {
    let backoffMs = ACCEPT_BACKOFF_MS_MIN;
    for (;;) {
      let connection: Connection | null;
      try {
        connection = await listener.accept();
        backoffMs = ACCEPT_BACKOFF_MS_MIN;
      } catch (error) {
        // Out of file descriptors or similar: say so, wait, and keep accepting. A node that
        // stopped accepting would look dead to every peer while it still gossips out.
        if (this.#closed) return;
        this.acceptErrors++;
        this.#options.onError(error);
        try {
          await this.#options.clock.sleep(backoffMs, this.#closing.signal);
        } catch {
          return; // closed while backing off
        }
        backoffMs = Math.min(ACCEPT_BACKOFF_MS_MAX, backoffMs * 2);
        continue;
      }
      if (connection === null) return;
      if (this.#closed) {
        connection.close();
        continue;
      }
      this.#serve(connection);
    }
  }

  async #serve(connection: Connection): Promise<void> {
    const { config, clock } = this.#options;
    let accepted;
    try {
      accepted = await acceptHandshake({
        connection,
        minVersion: config.minVersion,
        maxVersion: config.maxVersion,
        localAddress: this.#options.localAddress(),
        clock,
        timeoutMs: config.handshakeTimeoutMs,
      });
    } catch (error) {
      connection.close();
      // A bare connect-and-close is a liveness probe (ADR 0003) or a port check: count it.
      if (error instanceof ClosedBeforeHandshakeError) this.probeConnections++;
      else this.#options.onError(error);
      return;
    }
    if (accepted.streaming || this.#closed) {
      // Streaming connections belong to the streaming service (a later layer).
      connection.close();
      return;
    }
    const peer = accepted.from;
    const peerKey = formatInetAddress(peer);
    this.#options.onPeerVersion(peerKey, accepted.peerMaxVersion);
    const inbound = this.#peer(peerKey);
    const link = new InboundLink({
      connection,
      peer,
      version: accepted.version,
      framing: accepted.framing,
      leftover: accepted.leftover,
      clock,
      config,
      verbs: this.#options.verbs,
      capacity: new ReceiveCapacity(
        config.receiveQueueCapacityBytes,
        inbound.reserve,
        this.#capacitySignal,
      ),
      metrics: inbound.metrics,
      hooks: {
        deliver: (message, from, sizeBytes, release) =>
          this.#options.deliver(message, from, peerKey, sizeBytes, inbound.metrics, release),
        respondFailure: this.#options.respondFailure,
        onClosed: (closed) => inbound.links.delete(closed),
      },
    });
    inbound.links.add(link);
    await link.run();
  }

  #peer(peerKey: string): PeerInbound {
    let inbound = this.#peers.get(peerKey);
    if (inbound === undefined) {
      inbound = {
        metrics: new InboundMetrics(),
        reserve: new EndpointAndGlobalReserve(
          new ResourceLimit(this.#options.config.receiveQueueReserveEndpointCapacityBytes),
          this.#global,
        ),
        links: new Set(),
      };
      this.#peers.set(peerKey, inbound);
    }
    return inbound;
  }
}
