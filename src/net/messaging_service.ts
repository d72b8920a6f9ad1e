/**
 * The messaging service (PROTOCOL.md §6–§9): handlers per verb, `send`, `sendWithCallback`,
 * three outbound links per peer, inbound connections with receive limits, bounded stages, and
 * the `internode_inbound` / `internode_outbound` metrics.
 *
 * Messages to the local node skip serialization and the network: they go straight to the
 * handler (or the waiting callback). Requests sent with a callback carry
 * `CALL_BACK_ON_FAILURE`, so a peer that cannot handle one answers `FAILURE_RSP` at once and the
 * caller's promise fails well before the timeout.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SystemClock } from "../clock.ts";
 * import { MessagingService } from "./messaging_service.ts";
 * import { MemoryNetwork } from "./memory_transport.ts";
 * import { createVerbRegistry, ECHO_REQ, ECHO_RSP } from "../wire/verbs.ts";
 * const clock = new SystemClock();
 * const network = new MemoryNetwork({ clock });
 * const a = new MessagingService({
 *   localAddress: { host: "10.0.0.1", port: 7000 }, transport: network.transport("10.0.0.1"),
 *   clock, verbs: createVerbRegistry(),
 * });
 * const b = new MessagingService({
 *   localAddress: { host: "10.0.0.2", port: 7000 }, transport: network.transport("10.0.0.2"),
 *   clock, verbs: createVerbRegistry(),
 * });
 * await a.start();
 * await b.start();
 * b.registerHandler(ECHO_REQ, (request, from) => b.respond(request, from, undefined));
 * const response = await a.sendWithCallback(a.createMessage(ECHO_REQ, undefined), b.localAddress);
 * assert.equal(response.verb, ECHO_RSP);
 * await a.close();
 * await b.close();
 * ```
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { FramingKind } from "../wire/frame_encoder.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import { type Message, MessageFlag, type MessageParams } from "../wire/message.ts";
import { messageSerializedSize } from "../wire/message_codec.ts";
import { RequestFailureReason } from "../wire/payload_serializers.ts";
import type { Verb } from "../wire/verb.ts";
import { FAILURE_RSP, type VerbRegistry } from "../wire/verbs.ts";
import { SendFailedError, ServiceClosedError } from "./errors.ts";
import { initiateHandshake } from "./handshake_initiator.ts";
import { InboundServer } from "./inbound_server.ts";
import { type InboundRow, OutboundMetrics, type OutboundRow } from "./link_metrics.ts";
import { type MessagingConfig, resolveMessagingConfig } from "./messaging_config.ts";
import { type EstablishedConnection, type LinkType, OutboundLink } from "./outbound_link.ts";
import { RequestCallbacks } from "./request_callbacks.ts";
import { EndpointAndGlobalReserve, ResourceLimit } from "./resource_limit.ts";
import type { StageName } from "./stage.ts";
import type { Listener, Transport } from "./transport.ts";
import { VerbDispatcher, type VerbHandler } from "./verb_dispatcher.ts";

export type { VerbHandler } from "./verb_dispatcher.ts";

/** Options of a {@link MessagingService}. */
export interface MessagingServiceOptions {
  /** Our internode address: where we listen, and how peers know us. */
  readonly localAddress: InetAddressAndPort;
  /** TCP, or the in-memory network. */
  readonly transport: Transport;
  /** Injected time. */
  readonly clock: Clock;
  /** Verbs this node speaks. */
  readonly verbs: VerbRegistry;
  /** Overrides of the defaults. */
  readonly config?: Partial<MessagingConfig>;
  /** Our datacenter, for `internode_compression: dc`. */
  readonly datacenter?: string;
  /** A peer's datacenter, when known (from gossip), for `internode_compression: dc`. */
  readonly datacenterOf?: (peer: InetAddressAndPort) => string | undefined;
  /** Receives errors nothing else can report (a handler that threw with no one to answer). */
  readonly onError?: (error: unknown) => void;
  /**
   * Test hook (Cassandra's outbound sink filters): a message to a peer for which this returns
   * false is dropped silently, as if lost, before it is queued. Simulations use it for loss.
   */
  readonly outboundFilter?: (message: Message, peer: InetAddressAndPort) => boolean;
}

/** Options for building a message. */
export interface MessageOptions {
  /** Flag bits. */
  readonly flags?: number;
  /** Params. */
  readonly params?: MessageParams;
  /** Expiry; default: now + the verb's timeout. */
  readonly expiresAtMs?: number;
}

interface PeerOutbound {
  /** Links created on first use: most peers only ever see urgent (gossip) traffic. */
  readonly links: Partial<Record<LinkType, OutboundLink>>;
  readonly metrics: Record<LinkType, OutboundMetrics>;
  readonly link: (type: LinkType) => OutboundLink;
}

const LINK_TYPES: readonly LinkType[] = ["urgent", "small", "large"];
const MAX_MESSAGE_ID = 0x7fff_ffff;

/** Sends and receives messages for one node. */
export class MessagingService {
  /** Our internode address (with the real port once started). */
  localAddress: InetAddressAndPort;
  /** The resolved configuration. */
  readonly config: MessagingConfig;
  readonly #options: MessagingServiceOptions;
  readonly #clock: Clock;
  readonly #verbs: VerbRegistry;
  readonly #callbacks: RequestCallbacks;
  readonly #dispatcher: VerbDispatcher;
  readonly #outbound = new Map<string, PeerOutbound>();
  readonly #inbound: InboundServer;
  readonly #peerVersions = new Map<string, number>();
  readonly #sendGlobal: ResourceLimit;
  #listener: Listener | undefined;
  #nextId = 1;
  #localKey: string;
  /** `host:port` of peer address objects seen, so hot sends do not format strings. */
  #peerKeys = new WeakMap<InetAddressAndPort, string>();
  #encodeOptions: { readonly from: InetAddressAndPort };
  #cachedNowMs = -1;
  #cachedNowUses = 0;
  #cacheResetScheduled = false;
  #closed = false;
  readonly #connectionLostListeners = new Set<(peer: InetAddressAndPort) => void>();

  constructor(options: MessagingServiceOptions) {
    this.#options = options;
    this.config = resolveMessagingConfig(options.config);
    this.#clock = options.clock;
    this.#verbs = options.verbs;
    this.localAddress = options.localAddress;
    this.#localKey = formatInetAddress(options.localAddress);
    this.#encodeOptions = { from: options.localAddress };
    this.#callbacks = new RequestCallbacks(options.clock);
    this.#sendGlobal = new ResourceLimit(this.config.sendQueueReserveGlobalCapacityBytes);
    this.#dispatcher = new VerbDispatcher({
      clock: options.clock,
      verbs: options.verbs,
      callbacks: this.#callbacks,
      stageQueueCapacityMessages: this.config.stageQueueCapacityMessages,
      respondWithFailure: (request, to, reason) => this.respondWithFailure(request, to, reason),
      onError: (error) => this.#reportError(error),
    });
    this.#inbound = new InboundServer({
      localAddress: () => this.localAddress,
      clock: options.clock,
      config: this.config,
      verbs: options.verbs,
      onPeerVersion: (peerKey, version) => this.#peerVersions.set(peerKey, version),
      deliver: (message, from, peerKey, sizeBytes, metrics, release) =>
        this.#dispatcher.deliver(message, from, peerKey, sizeBytes, metrics, release, true),
      respondFailure: (id, from, reason, expiresAtMs) =>
        this.send(
          {
            id,
            verb: FAILURE_RSP,
            createdAtMs: this.#clock.nowMs(),
            expiresAtMs,
            flags: 0,
            params: undefined,
            payload: reason as RequestFailureReason,
          },
          from,
        ),
      onError: (error) => this.#reportError(error),
    });
  }

  /** Starts listening on {@link localAddress}. */
  async start(): Promise<void> {
    if (this.#listener !== undefined) return;
    this.#listener = await this.#options.transport.listen(this.localAddress);
    this.localAddress = this.#listener.address;
    this.#localKey = formatInetAddress(this.localAddress);
    this.#encodeOptions = { from: this.localAddress };
    this.#inbound.start(this.#listener);
  }

  /**
   * Stops: no new connections or messages; queued outbound messages are drained (written, or
   * failed once they expire); handlers in flight finish; waiting callbacks fail.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener?.close();
    const links = [...this.#outbound.values()].flatMap((peer) =>
      LINK_TYPES.flatMap((t) => peer.links[t] ?? [])
    );
    // Drain, but not forever: a stuck write or a slow peer gets closeDrainTimeoutMs.
    const deadline = this.#clock.setTimer(() => {
      for (const link of links) void link.close(false);
    }, this.config.closeDrainTimeoutMs);
    await Promise.all(links.map((link) => link.close(true)));
    deadline.cancel();
    await this.#inbound.close();
    await this.#dispatcher.close();
    this.#callbacks.close();
  }

  /** Closes; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Registers the handler of `verb`, on its default stage unless `stage` is given. */
  registerHandler<T>(verb: Verb<T>, handler: VerbHandler<T>, stage?: StageName): void {
    this.#dispatcher.register(verb, handler, stage);
  }

  /** A new request of `verb`, created now, expiring after the verb's timeout. */
  createMessage<T>(verb: Verb<T>, payload: T, options: MessageOptions = {}): Message<T> {
    const nowMs = this.#creationTimeMs();
    const id = this.#nextId;
    this.#nextId = id >= MAX_MESSAGE_ID ? 1 : id + 1;
    return {
      id,
      verb,
      createdAtMs: nowMs,
      expiresAtMs: options.expiresAtMs ??
        nowMs + (verb.timeoutMs ?? this.config.applicationTimeoutMs),
      flags: options.flags ?? 0,
      params: options.params,
      payload,
    };
  }

  /** Sends `message` to `peer` without waiting for an answer. */
  send(message: Message, peer: InetAddressAndPort): void {
    if (this.#closed) {
      this.#dropped(
        message,
        peer,
        new ServiceClosedError(`Cannot send ${message.verb.name}: messaging closed`),
      );
      return;
    }
    const peerKey = this.#keyOf(peer);
    if (this.#options.outboundFilter?.(message, peer) === false) return;
    if (peerKey === this.#localKey) {
      this.#dispatcher.deliver(message, this.localAddress, this.#localKey, 0, undefined, noop);
      return;
    }
    let sizeBytes: number;
    try {
      sizeBytes = messageSerializedSize(message, this.config.maxVersion, this.#encodeOptions);
    } catch (cause) {
      this.#dropped(
        message,
        peer,
        new SendFailedError(`Cannot serialize ${message.verb.name}`, { cause }),
      );
      return;
    }
    const sizeMaxBytes = Math.min(
      this.config.maxMessageSizeBytes,
      message.verb.maxSizeBytes ?? Infinity,
    );
    if (sizeBytes > sizeMaxBytes) {
      const outbound = this.#peerOutbound(peer, peerKey);
      outbound.metrics.large.errorCount++;
      outbound.metrics.large.errorBytes += sizeBytes;
      this.#dropped(
        message,
        peer,
        new SendFailedError(
          `Cannot send ${message.verb.name}: ${sizeBytes} bytes exceed its maximum message size of ${sizeMaxBytes}`,
        ),
      );
      return;
    }
    const type: LinkType = sizeBytes > this.config.largeMessageThresholdBytes
      ? "large"
      : message.verb.priority === 0
      ? "urgent"
      : "small";
    this.#peerOutbound(peer, peerKey).link(type).enqueue(message, sizeBytes);
  }

  /**
   * The clock for message creation, read at most once per 256 messages created in one
   * synchronous run (a read costs ≈45 ns, a fifth of a small send): the value can lag by the
   * time it takes to create 256 messages (tens of µs), far below the ms precision of expiry.
   */
  #creationTimeMs(): number {
    if (this.#cachedNowMs < 0 || ++this.#cachedNowUses > 256) {
      this.#cachedNowMs = this.#clock.nowMs();
      this.#cachedNowUses = 0;
      if (!this.#cacheResetScheduled) {
        this.#cacheResetScheduled = true;
        queueMicrotask(() => {
          this.#cacheResetScheduled = false;
          this.#cachedNowMs = -1;
        });
      }
    }
    return this.#cachedNowMs;
  }

  #keyOf(peer: InetAddressAndPort): string {
    let key = this.#peerKeys.get(peer);
    if (key === undefined) {
      key = formatInetAddress(peer);
      this.#peerKeys.set(peer, key);
    }
    return key;
  }

  /**
   * Sends a request and resolves with its response.
   * @throws {RequestFailedError} at once when the peer answers FAILURE_RSP
   * @throws {RequestTimeoutError} when no answer comes before the request expires
   * @throws {OverloadedError} / {MessageExpiredError} / {SendFailedError} when it was never sent
   */
  sendWithCallback<Rsp = unknown>(
    message: Message,
    peer: InetAddressAndPort,
  ): Promise<Message<Rsp>> {
    const request: Message = message.flags & MessageFlag.CALL_BACK_ON_FAILURE
      ? message
      : { ...message, flags: message.flags | MessageFlag.CALL_BACK_ON_FAILURE };
    return new Promise<Message<Rsp>>((resolve, reject) => {
      this.#callbacks.add(request.id, this.#keyOf(peer), request.expiresAtMs, {
        onResponse: (response) => resolve(response as Message<Rsp>),
        onFailure: reject,
      });
      this.send(request, peer);
    });
  }

  /** Answers `request` (from `to`) with `payload`, on the request verb's response verb. */
  respond<T>(request: Message, to: InetAddressAndPort, payload: T): void {
    const responseVerbId = request.verb.responseVerbId;
    const verb = responseVerbId === undefined ? undefined : this.#verbs.byId(responseVerbId);
    if (verb === undefined) {
      throw new Error(`Cannot respond to ${request.verb.name}: it has no response verb`);
    }
    this.send(this.#response(request, verb, payload), request.params?.respondTo ?? to);
  }

  /** Answers `request` with FAILURE_RSP(`reason`). */
  respondWithFailure(request: Message, to: InetAddressAndPort, reason: RequestFailureReason): void {
    this.send(this.#response(request, FAILURE_RSP, reason), request.params?.respondTo ?? to);
  }

  #response<T>(request: Message, verb: Verb<T>, payload: T): Message<T> {
    return {
      id: request.id,
      verb,
      createdAtMs: this.#clock.nowMs(),
      expiresAtMs: request.expiresAtMs,
      flags: 0,
      params: undefined,
      payload,
    };
  }

  /**
   * Subscribes to lost links: an established outbound connection to `peer` was closed by the
   * peer or reset by the network (its process may be gone). Returns the unsubscribe function.
   */
  onConnectionLost(listener: (peer: InetAddressAndPort) => void): () => void {
    this.#connectionLostListeners.add(listener);
    return () => this.#connectionLostListeners.delete(listener);
  }

  /** Inbound connections closed before a byte of handshake: liveness probes and port checks. */
  get probeConnections(): number {
    return this.#inbound.probeConnections;
  }

  /**
   * Records `peer`'s messaging version (gossip's NET_VERSION); when it changed, its links
   * reconnect at the new version.
   */
  setPeerMessagingVersion(peer: InetAddressAndPort, version: number): void {
    const peerKey = formatInetAddress(peer);
    const known = this.#peerVersions.get(peerKey);
    this.#peerVersions.set(peerKey, version);
    if (known === undefined || known === version) return;
    const outbound = this.#outbound.get(peerKey);
    if (outbound !== undefined) {
      for (const type of LINK_TYPES) outbound.links[type]?.reconnect();
    }
  }

  /** The version last learned for `peer` (handshakes and gossip), if any. */
  peerMessagingVersion(peer: InetAddressAndPort): number | undefined {
    return this.#peerVersions.get(formatInetAddress(peer));
  }

  /** Negotiated version of each established outbound link to `peer`. */
  connectedVersions(peer: InetAddressAndPort): Partial<Record<LinkType, number>> {
    const outbound = this.#outbound.get(formatInetAddress(peer));
    const versions: Partial<Record<LinkType, number>> = {};
    if (outbound === undefined) return versions;
    for (const type of LINK_TYPES) {
      const version = outbound.links[type]?.version;
      if (version !== undefined) versions[type] = version;
    }
    return versions;
  }

  /** `internode_inbound`: one row per peer that has connected to us. */
  inboundMetrics(): Map<string, InboundRow> {
    return this.#inbound.metrics();
  }

  /** `internode_outbound`: one row per peer we have sent to, summed over its three links. */
  outboundMetrics(): Map<string, OutboundRow> {
    const rows = new Map<string, OutboundRow>();
    for (const [peerKey, peer] of this.#outbound) {
      const sum = new OutboundMetrics();
      for (const type of LINK_TYPES) sum.add(peer.metrics[type]);
      rows.set(peerKey, sum.toRow());
    }
    return rows;
  }

  /** Requests waiting for a response. */
  get pendingCallbacks(): number {
    return this.#callbacks.size;
  }

  // -------------------------------------------------------------------------------------------
  // Outbound

  #peerOutbound(peer: InetAddressAndPort, peerKey: string): PeerOutbound {
    let outbound = this.#outbound.get(peerKey);
    if (outbound !== undefined) return outbound;
    const reserve = new EndpointAndGlobalReserve(
      new ResourceLimit(this.config.sendQueueReserveEndpointCapacityBytes),
      this.#sendGlobal,
    );
    const metrics = {
      urgent: new OutboundMetrics(),
      small: new OutboundMetrics(),
      large: new OutboundMetrics(),
    };
    const create = (type: LinkType) =>
      new OutboundLink({
        peer,
        type,
        localAddress: this.localAddress,
        clock: this.#clock,
        config: this.config,
        reserve,
        metrics: metrics[type],
        hooks: {
          connect: (linkType) => this.#connect(peer, peerKey, linkType),
          onDropped: (message, error) => this.#dropped(message, peer, error),
          onConnectionLost: () => {
            for (const listener of this.#connectionLostListeners) listener(peer);
          },
        },
      });
    const links: Partial<Record<LinkType, OutboundLink>> = {};
    outbound = { links, metrics, link: (type) => (links[type] ??= create(type)) };
    this.#outbound.set(peerKey, outbound);
    return outbound;
  }

  #framingFor(peer: InetAddressAndPort): FramingKind {
    const compression = this.config.internodeCompression;
    if (compression === "all") return "lz4";
    if (compression === "dc") {
      const theirs = this.#options.datacenterOf?.(peer);
      if (theirs !== undefined && theirs !== this.#options.datacenter) return "lz4";
    }
    return this.config.unprotectedFraming ? "unprotected" : "crc";
  }

  /** Connects one link: transport, then the initiator handshake, retrying at a lower version. */
  async #connect(
    peer: InetAddressAndPort,
    peerKey: string,
    type: LinkType,
  ): Promise<EstablishedConnection> {
    const framing = this.#framingFor(peer);
    for (let attempt = 0; attempt < 3; attempt++) {
      const requestVersion = Math.min(
        this.config.maxVersion,
        this.#peerVersions.get(peerKey) ?? this.config.maxVersion,
      );
      const connection = await this.#options.transport.connect(peer, {
        timeoutMs: this.config.tcpConnectTimeoutMs,
      });
      let outcome;
      try {
        outcome = await initiateHandshake({
          connection,
          type,
          framing,
          requestVersion,
          minVersion: this.config.minVersion,
          maxVersion: this.config.maxVersion,
          from: this.localAddress,
          clock: this.#clock,
          timeoutMs: this.config.handshakeTimeoutMs,
        });
      } catch (error) {
        connection.close();
        throw error;
      }
      if (outcome.kind === "success") {
        return { connection, version: outcome.version, framing };
      }
      connection.close();
      if (outcome.kind === "incompatible") throw outcome.error;
      // Retry at once at the version the peer told us.
      this.#peerVersions.set(peerKey, outcome.peerVersion);
    }
    throw new SendFailedError(
      `Cannot connect to ${peerKey}: the version negotiation did not settle`,
    );
  }

  /** A message will not be sent: fail its callback, if it has one. */
  #dropped(message: Message, peer: InetAddressAndPort, error: Error): void {
    this.#callbacks.take(message.id, this.#keyOf(peer))?.onFailure(error);
  }

  #reportError(error: unknown): void {
    if (this.#options.onError !== undefined) this.#options.onError(error);
  }
}

function noop(): void {}
