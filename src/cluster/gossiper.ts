/**
 * The gossiper (PROTOCOL.md §10, Cassandra's `Gossiper`): every node keeps an endpoint state per
 * member and, once per `gossipIntervalMs`, bumps its heartbeat and runs a SYN / ACK / ACK2
 * exchange with one random live peer, sometimes an unreachable one, and a seed under Cassandra's
 * rule. A newer heartbeat feeds the phi-accrual failure detector; a node is marked alive only
 * after an ECHO round trip; convictions come from phi, or sooner from refused connects (ADR
 * 0003). `close()` announces `shutdown` with `GOSSIP_SHUTDOWN`, which peers act on at once.
 *
 * Subscribers get typed {@link GossipEvent}s: `join`, `alive`, `dead`, `restart`, `change` and
 * `left`. Being DOWN never removes a ring member; only a LEFT status or
 * {@link Gossiper.removeEndpoint} does, and a removed node stays quarantined (its gossip ignored)
 * for `quarantineDelayMs`. A down node that never announced a status (not a member) is forgotten
 * once its heartbeat has not advanced for 30 s, as Cassandra evicts fat clients.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../clock.ts";
 * import { Random } from "../random.ts";
 * import { MemoryNetwork } from "../net/memory_transport.ts";
 * import { MessagingService } from "../net/messaging_service.ts";
 * import { createVerbRegistry } from "../wire/verbs.ts";
 * import { Gossiper } from "./gossiper.ts";
 * import { MemoryGenerationStore } from "./generation_store.ts";
 * const clock = new ManualClock();
 * const network = new MemoryNetwork({ clock });
 * const seed = { host: "10.0.0.1", port: 7000 };
 * const nodes = [];
 * for (const [i, host] of ["10.0.0.1", "10.0.0.2"].entries()) {
 *   const transport = network.transport(host);
 *   const messaging = new MessagingService({
 *     localAddress: { host, port: 7000 }, transport, clock, verbs: createVerbRegistry(),
 *   });
 *   await messaging.start();
 *   const gossiper = new Gossiper({
 *     messaging, transport, clock, random: new Random(i + 1),
 *     generationStore: new MemoryGenerationStore(), config: { seeds: [seed] },
 *   });
 *   await gossiper.start(); // the second node's shadow round asks the seed
 *   nodes.push({ messaging, gossiper });
 * }
 * for (let i = 0; i < 50; i++) await clock.advanceAsync(100);
 * assert.equal(nodes[0]!.gossiper.isAlive({ host: "10.0.0.2", port: 7000 }), true);
 * for (const { gossiper } of nodes) await gossiper.close(); // queues GOSSIP_SHUTDOWN
 * await clock.advanceAsync(100);
 * for (const { messaging } of nodes) await messaging.close();
 * ```
 *
 * @module
 */

import { type Clock, setRepeatingTimer, type Timer } from "../clock.ts";
import type { MessagingService } from "../net/messaging_service.ts";
import type { Transport } from "../net/transport.ts";
import type { Random } from "../random.ts";
import {
  ApplicationState,
  type GossipDigest,
  type GossipDigestAck,
  type GossipDigestAck2,
  type GossipDigestSyn,
  type VersionedValue,
} from "../wire/gossip_payloads.ts";
import {
  formatInetAddress,
  formatIpAddress,
  type InetAddressAndPort,
  parseIpAddress,
} from "../wire/inet_address.ts";
import type { Message } from "../wire/message.ts";
import {
  ECHO_REQ,
  GOSSIP_DIGEST_ACK,
  GOSSIP_DIGEST_ACK2,
  GOSSIP_DIGEST_SYN,
  GOSSIP_SHUTDOWN,
} from "../wire/verbs.ts";
import { EndpointStateRecord, VersionGenerator } from "./endpoint_state.ts";
import { EndpointStateMap } from "./endpoint_state_map.ts";
import { FailureDetector } from "./failure_detector.ts";
import { type GossipConfig, resolveGossipConfig } from "./gossip_config.ts";
import { type GossipListener, GossipMetrics } from "./gossip_events.ts";
import {
  allStates,
  buildDigests,
  examineDigests,
  type KnownEndpoint,
  statesForDigests,
} from "./gossip_exchange.ts";
import { type GossipStatus, isLeftStatus } from "./gossip_status.ts";
import type { GenerationStore } from "./generation_store.ts";
import { LivenessMonitor } from "./liveness_monitor.ts";
import { transportProbe } from "./liveness_prober.ts";
import { chooseGossipTargets } from "./gossip_targets.ts";
import { ShadowRound } from "./shadow_round.ts";

export type { DeadReason, GossipEvent, GossipListener } from "./gossip_events.ts";

/** Options of a {@link Gossiper}. */
export interface GossiperOptions {
  /** Links to peers; the gossiper registers the gossip and echo verb handlers on it. */
  readonly messaging: MessagingService;
  /** The transport under `messaging`, for liveness probes (ADR 0003). */
  readonly transport: Transport;
  /** Injected time. */
  readonly clock: Clock;
  /** Injected randomness: peer choice and digest order. */
  readonly random: Random;
  /** Where the generation survives restarts. */
  readonly generationStore: GenerationStore;
  /** Overrides of the defaults. */
  readonly config?: Partial<GossipConfig>;
  /** Receives errors of subscribers and probes; default `console.error`. */
  readonly onError?: (error: unknown) => void;
  /** This process's version counter; default a new one. */
  readonly versions?: VersionGenerator;
}

/** One endpoint as this node sees it: for status pages and metrics. */
export interface EndpointView {
  /** Its internode address. */
  readonly address: InetAddressAndPort;
  /** `host:port`. */
  readonly key: string;
  /** Whether it is this node. */
  readonly isLocal: boolean;
  /** Whether this node considers it alive. */
  readonly alive: boolean;
  /** Its generation. */
  readonly generation: number;
  /** Its heartbeat version. */
  readonly heartbeatVersion: number;
  /** Its parsed status, if announced. */
  readonly status: GossipStatus | undefined;
  /** Phi now (0 for this node). */
  readonly phi: number;
  /** Its application states by ordinal. */
  readonly states: ReadonlyMap<number, VersionedValue>;
}

const canonicalHosts = new Map<string, string>();

/** `address` with its host as a canonical IP literal, as addresses read off the wire are. */
function canonical(address: InetAddressAndPort): InetAddressAndPort {
  let host = canonicalHosts.get(address.host);
  if (host === undefined) {
    host = formatIpAddress(parseIpAddress(address.host));
    if (canonicalHosts.size >= 16_384) canonicalHosts.clear();
    canonicalHosts.set(address.host, host);
  }
  return host === address.host ? address : { host, port: address.port };
}

/** The key of `address` in the endpoint map. */
function keyOf(address: InetAddressAndPort): string {
  return formatInetAddress(canonical(address));
}

/** Runs gossip for one node. */
export class Gossiper {
  /** The resolved configuration. */
  readonly config: GossipConfig;
  /** Counters (exported as metrics by the node). */
  readonly metrics: GossipMetrics = new GossipMetrics();
  readonly #options: GossiperOptions;
  readonly #messaging: MessagingService;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #versions: VersionGenerator;
  readonly #detector: FailureDetector;
  readonly #liveness: LivenessMonitor;
  readonly #states: EndpointStateMap;
  /** Each in-flight ECHO by peer: the generation it confirms and when it was sent. */
  readonly #echoes = new Map<string, { generation: number; sentAtMs: number }>();
  readonly #pendingLocalStates = new Map<number, string>();
  readonly #seedKeys: Set<string>;
  #otherSeeds: readonly InetAddressAndPort[] = [];
  #localKey = "";
  #local: EndpointStateRecord | undefined;
  #shadow: ShadowRound | undefined;
  #roundTimer: Timer | undefined;
  #probeTimer: Timer | undefined;
  #unsubscribeLinks: (() => void) | undefined;
  #closed = false;
  readonly #echoTimeoutMs: number;

  constructor(options: GossiperOptions) {
    this.#options = options;
    this.config = resolveGossipConfig(options.config);
    this.#messaging = options.messaging;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#versions = options.versions ?? new VersionGenerator();
    this.#detector = new FailureDetector({
      phiConvictThreshold: this.config.phiConvictThreshold,
      windowSize: this.config.failureDetectorWindowSize,
      initialIntervalMs: this.config.failureDetectorInitialIntervalMs,
      maxIntervalMs: this.config.failureDetectorMaxIntervalMs,
      maxLocalPauseMs: this.config.maxLocalPauseMs,
    });
    this.#liveness = new LivenessMonitor({
      config: this.config,
      detector: this.#detector,
      metrics: this.metrics,
      probe: transportProbe(options.transport, this.config.livenessProbeTimeoutMs),
      monotonicMs: () => this.#monotonicMs(),
      peers: () => this.#states.entries,
      isLocal: (key) => key === this.#localKey,
      onConvict: (key) => this.#convict(key, "refused"),
      onError: (error) => this.#reportError(error),
    });
    this.#states = new EndpointStateMap({
      config: this.config,
      detector: this.#detector,
      metrics: this.metrics,
      nowMs: () => this.#clock.nowMs(),
      monotonicMs: () => this.#monotonicMs(),
      onError: (error) => this.#reportError(error),
      requestAlive: (key, endpoint) => this.#echo(key, endpoint),
      onReset: (key) => {
        this.#liveness.forget(key);
        this.#echoes.delete(key);
      },
      onNetVersion: (address, version) => this.#messaging.setPeerMessagingVersion(address, version),
    });
    this.#seedKeys = new Set(this.config.seeds.map(formatInetAddress));
    this.#echoTimeoutMs = ECHO_REQ.timeoutMs ?? this.#messaging.config.applicationTimeoutMs;
  }

  /** This node's address (the messaging service's). */
  get localAddress(): InetAddressAndPort {
    return this.#messaging.localAddress;
  }

  /** This node's generation (0 before {@link start}). */
  get generation(): number {
    return this.#local?.generation ?? 0;
  }

  /** Whether this node is a seed. */
  get isSeed(): boolean {
    return this.#seedKeys.has(keyOf(this.localAddress));
  }

  /** Subscribes to membership events; returns the unsubscribe function. */
  subscribe(listener: GossipListener): () => void {
    return this.#states.subscribe(listener);
  }

  /**
   * Sets one of this node's application states (before or after {@link start}); it spreads
   * with the next rounds.
   * @throws {RangeError} when this node's states would no longer fit in one gossip message
   */
  setLocalState(ordinal: number, value: string): void {
    let totalChars = value.length;
    const current = this.#local?.states ?? new Map(
      [...this.#pendingLocalStates].map(([other, text]) => [other, { value: text, version: 0 }]),
    );
    for (const [other, state] of current) if (other !== ordinal) totalChars += state.value.length;
    // One value is a Java UTF string (64 KiB), and all of them must fit in one message's bound
    // (UTF-8 takes up to 3 bytes a char), or this node's state could never be sent.
    if (3 * value.length > 0xffff || 3 * totalChars + 1024 > this.config.maxStateBytesPerMessage) {
      throw new RangeError(
        `Cannot gossip application state ${ordinal}: the value, or this node's states in all, ` +
          `would not fit in one gossip message (maxStateBytesPerMessage ${this.config.maxStateBytesPerMessage})`,
      );
    }
    const local = this.#local;
    if (local === undefined) {
      this.#pendingLocalStates.set(ordinal, value);
      return;
    }
    local.set(ordinal, { value, version: this.#versions.next() });
    this.#states.emit({
      type: "change",
      address: this.localAddress,
      key: this.#localKey,
      ordinal,
      value,
    });
  }

  /**
   * Starts: takes the next generation, runs the shadow round against the seeds (unless this
   * node is the only seed), then gossips every interval.
   * @throws {UnableToGossipError} when no seed answered the shadow round in time (non-seeds)
   */
  async start(): Promise<void> {
    if (this.#local !== undefined) return;
    const nowSeconds = Math.floor(this.#clock.nowMs() / 1000);
    let generation = await this.#options.generationStore.next(nowSeconds);
    if (this.#closed) return;
    this.#localKey = keyOf(this.localAddress);
    this.#registerHandlers();
    this.#unsubscribeLinks = this.#messaging.onConnectionLost((peer) =>
      this.#liveness.connectionLost(formatInetAddress(peer))
    );
    this.#otherSeeds = this.config.seeds.filter((s) => formatInetAddress(s) !== this.#localKey);
    if (this.config.shadowRound && this.#otherSeeds.length > 0) {
      this.#shadow = new ShadowRound({
        clock: this.#clock,
        seeds: this.#otherSeeds,
        resendMs: this.config.shadowRoundResendMs,
        timeoutMs: this.isSeed ? this.config.ringDelayMs : 2 * this.config.ringDelayMs,
        failOnTimeout: !this.isSeed,
        send: (seed) => this.#sendSyn(seed, []),
      });
      try {
        await this.#shadow.run();
        // Our own state as the cluster remembers it: a node whose generation file was lost and
        // whose clock is behind must still come back with a higher generation, or it would be
        // ignored as old news.
        for (const entry of this.#shadow.states) {
          const seen = entry.state.heartbeat.generation;
          if (formatInetAddress(entry.address) === this.#localKey && seen >= generation) {
            generation = await this.#options.generationStore.next(seen + 1);
          }
        }
      } finally {
        this.#shadow = undefined;
      }
    }
    if (this.#closed) return;
    const local = new EndpointStateRecord(generation, this.#versions.next());
    this.#local = local;
    this.#states.setLocal(canonical(this.localAddress), local);
    for (const [ordinal, value] of this.#pendingLocalStates) this.setLocalState(ordinal, value);
    this.#pendingLocalStates.clear();
    this.#roundTimer = setRepeatingTimer(
      this.#clock,
      () => this.#round(),
      this.config.gossipIntervalMs,
    );
    this.#probeTimer = setRepeatingTimer(
      this.#clock,
      () => this.#liveness.tick(),
      this.config.livenessProbeIntervalMs,
    );
  }

  /**
   * Stops gossiping after announcing `shutdown`: the status is set and `GOSSIP_SHUTDOWN` is
   * queued to every live peer (close the messaging service afterwards to drain it).
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#shadow?.cancel();
    this.#roundTimer?.cancel();
    this.#probeTimer?.cancel();
    this.#unsubscribeLinks?.();
    // A node that has left (or was removed) stays silent: announcing shutdown would overwrite
    // LEFT everywhere and bring it back as a member (Cassandra's isSilentShutdownState).
    if (this.#local !== undefined && !isLeftStatus(this.#local.status)) {
      this.setLocalState(ApplicationState.STATUS_WITH_PORT, "shutdown,true");
      for (const endpoint of this.#states.live()) {
        this.#messaging.send(
          this.#messaging.createMessage(GOSSIP_SHUTDOWN, undefined),
          endpoint.address,
        );
        this.metrics.shutdownsSent++;
      }
    }
    return Promise.resolve();
  }

  /** Closes; for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Whether `address` is this node or a peer considered alive. */
  isAlive(address: InetAddressAndPort): boolean {
    return this.#states.get(keyOf(address))?.record.alive ?? false;
  }

  /** Phi of `address` now. */
  phi(address: InetAddressAndPort): number {
    const key = keyOf(address);
    return key === this.#localKey ? 0 : this.#detector.phi(key, this.#monotonicMs());
  }

  /** The state of `address`, if known. */
  endpoint(address: InetAddressAndPort): EndpointView | undefined {
    const key = keyOf(address);
    const known = this.#states.get(key);
    return known === undefined ? undefined : this.#view(key, known);
  }

  /** Every known endpoint, this node included. */
  endpoints(): EndpointView[] {
    return [...this.#states.entries].map(([key, known]) => this.#view(key, known));
  }

  /**
   * Forgets `address` (a removed or evicted node): it is quarantined, so gossip about it is
   * ignored for `quarantineDelayMs`, and subscribers get `left`.
   */
  removeEndpoint(address: InetAddressAndPort): void {
    this.#states.remove(keyOf(address));
  }

  #view(key: string, known: KnownEndpoint): EndpointView {
    const record = known.record;
    return {
      address: known.address,
      key,
      isLocal: key === this.#localKey,
      alive: record.alive,
      generation: record.generation,
      heartbeatVersion: record.heartbeatVersion,
      status: record.status,
      phi: key === this.#localKey ? 0 : this.#detector.phi(key, this.#monotonicMs()),
      states: new Map(record.states),
    };
  }

  #monotonicMs(): number {
    return Math.floor(this.#clock.monotonicNs() / 1_000_000);
  }

  #registerHandlers(): void {
    const messaging = this.#messaging;
    messaging.registerHandler(GOSSIP_DIGEST_SYN, (message, from) => this.#onSyn(message, from));
    messaging.registerHandler(GOSSIP_DIGEST_ACK, (message, from) => this.#onAck(message, from));
    messaging.registerHandler(GOSSIP_DIGEST_ACK2, (message) => this.#onAck2(message));
    messaging.registerHandler(GOSSIP_SHUTDOWN, (message, from) => {
      this.metrics.shutdownsReceived++;
      if (this.#closed || this.#local === undefined) return;
      this.#states.markAsShutdown(formatInetAddress(from), message.createdAtMs);
    });
    messaging.registerHandler(ECHO_REQ, (message, from) => {
      // Cassandra answers echoes only once gossip runs, so a node is not marked alive early.
      if (this.#local !== undefined && !this.#closed) messaging.respond(message, from, undefined);
    });
  }

  // ---- rounds ----

  #round(): void {
    const local = this.#local;
    if (local === undefined || this.#closed) return;
    local.heartbeatVersion = this.#versions.next();
    this.metrics.rounds++;
    const digests = buildDigests(
      this.#states.entries,
      this.#localKey,
      this.#random,
      this.config.maxDigestsPerSyn,
    );
    const targets = chooseGossipTargets({
      live: this.#states.live().map((endpoint) => endpoint.address),
      unreachable: this.#states.unreachable().map((endpoint) => endpoint.address),
      seeds: this.#otherSeeds,
      random: this.#random,
    });
    for (const target of targets) this.#sendSyn(target, digests);
    this.#statusCheck();
  }

  #sendSyn(to: InetAddressAndPort, digests: GossipDigest[]): void {
    const syn: GossipDigestSyn = {
      clusterName: this.config.clusterName,
      partitionerName: this.config.partitionerName,
      digests,
    };
    this.#messaging.send(this.#messaging.createMessage(GOSSIP_DIGEST_SYN, syn), to);
    this.metrics.synsSent++;
  }

  /** Cassandra's `doStatusCheck`: phi verdicts, LEFT expiry, quarantine expiry. */
  #statusCheck(): void {
    const nowMs = this.#monotonicMs();
    for (const [key, endpoint] of this.#states.entries) {
      if (key === this.#localKey) continue;
      if (this.#detector.interpret(key, nowMs) && endpoint.record.alive) this.#convict(key, "phi");
    }
    this.#states.expire();
  }

  #convict(key: string, reason: "phi" | "refused"): void {
    if (this.#states.get(key)?.record.alive !== true) return;
    if (reason === "phi") this.metrics.phiConvictions++;
    else this.metrics.refusedConvictions++;
    this.#states.markDead(key, reason);
  }

  // ---- handlers ----

  #onSyn(message: Message<GossipDigestSyn>, from: InetAddressAndPort): void {
    this.metrics.synsReceived++;
    if (this.#closed) return;
    const syn = message.payload;
    if (
      syn.clusterName !== this.config.clusterName ||
      syn.partitionerName !== this.config.partitionerName
    ) {
      this.metrics.mismatchedSyns++;
      return;
    }
    if (this.#local === undefined) {
      // In our own shadow round: answer a shadow SYN with nothing, so the sender knows a seed
      // is up; ignore real gossip until we have a state of our own.
      if (syn.digests.length === 0) this.#sendAck(from, { digests: [], endpointStates: [] });
      return;
    }
    const maxBytes = this.config.maxStateBytesPerMessage;
    const version = this.#peerVersion(from);
    if (syn.digests.length === 0) {
      const endpointStates = allStates(this.#states.entries, maxBytes, version, this.metrics);
      this.#sendAck(from, { digests: [], endpointStates });
      return;
    }
    if (syn.digests.length > this.config.maxEndpoints) {
      this.metrics.rejectedMessages++;
      return;
    }
    const examination = examineDigests(
      this.#withPorts(syn.digests),
      this.#states.entries,
      maxBytes,
      version,
      this.metrics,
    );
    this.#sendAck(from, { digests: examination.requests, endpointStates: examination.states });
  }

  #sendAck(to: InetAddressAndPort, ack: GossipDigestAck): void {
    this.#messaging.send(this.#messaging.createMessage(GOSSIP_DIGEST_ACK, ack), to);
    this.metrics.acksSent++;
  }

  #onAck(message: Message<GossipDigestAck>, from: InetAddressAndPort): void {
    this.metrics.acksReceived++;
    const ack = message.payload;
    if (this.#shadow !== undefined) {
      this.#shadow.answered(ack.endpointStates);
      return;
    }
    if (this.#local === undefined || this.#closed) return;
    if (
      ack.digests.length > this.config.maxEndpoints ||
      ack.endpointStates.length > this.config.maxEndpoints
    ) {
      this.metrics.rejectedMessages++;
      return;
    }
    this.#states.apply(ack.endpointStates, this.localAddress.port);
    if (ack.digests.length === 0) return;
    const endpointStates = statesForDigests(
      this.#withPorts(ack.digests),
      this.#states.entries,
      this.config.maxStateBytesPerMessage,
      this.#peerVersion(from),
      this.metrics,
    );
    if (endpointStates.length === 0) return;
    const ack2: GossipDigestAck2 = { endpointStates };
    this.#messaging.send(this.#messaging.createMessage(GOSSIP_DIGEST_ACK2, ack2), from);
    this.metrics.ack2sSent++;
  }

  #onAck2(message: Message<GossipDigestAck2>): void {
    this.metrics.ack2sReceived++;
    if (this.#local === undefined || this.#closed) return;
    if (message.payload.endpointStates.length > this.config.maxEndpoints) {
      this.metrics.rejectedMessages++;
      return;
    }
    this.#states.apply(message.payload.endpointStates, this.localAddress.port);
  }

  #peerVersion(peer: InetAddressAndPort): number {
    return this.#messaging.peerMessagingVersion(peer) ?? this.#messaging.config.maxVersion;
  }

  /**
   * Digests from a version-11 peer carry addresses without a port: they mean the cluster's
   * shared storage port, so look them up (and answer them) with ours.
   */
  #withPorts(digests: readonly GossipDigest[]): readonly GossipDigest[] {
    if (!digests.some((digest) => digest.address.port === 0)) return digests;
    const port = this.localAddress.port;
    return digests.map((digest) =>
      digest.address.port === 0
        ? { ...digest, address: { host: digest.address.host, port } }
        : digest
    );
  }

  /** Confirms `key` with an ECHO round trip, then marks it alive (Cassandra's markAlive). */
  #echo(key: string, endpoint: KnownEndpoint): void {
    if (this.#closed) return;
    const nowMs = this.#monotonicMs();
    const inFlight = this.#echoes.get(key);
    // A lost answer must not block the next echo until the callback expires: that expiry
    // follows the wall clock, which may step back. Allow a new echo after its timeout.
    if (inFlight !== undefined && nowMs - inFlight.sentAtMs < this.#echoTimeoutMs) return;
    const generation = endpoint.record.generation;
    const echo = { generation, sentAtMs: nowMs };
    this.#echoes.set(key, echo);
    this.metrics.echoesSent++;
    const settle = () => {
      if (this.#echoes.get(key) === echo) this.#echoes.delete(key);
    };
    this.#messaging.sendWithCallback(
      this.#messaging.createMessage(ECHO_REQ, undefined),
      endpoint.address,
    ).then(
      () => {
        settle();
        if (!this.#closed) this.#states.markAlive(key, generation);
      },
      () => {
        settle();
        this.metrics.echoesFailed++;
      },
    );
  }

  #reportError(error: unknown): void {
    this.metrics.listenerErrors++;
    (this.#options.onError ?? console.error)(error);
  }
}
