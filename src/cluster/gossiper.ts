/**
 * The gossiper (PROTOCOL.md §10, Cassandra's `Gossiper`): every node keeps an endpoint state per
 * member and, once per `gossipIntervalMs`, bumps its heartbeat and runs a SYN / ACK / ACK2
 * exchange with one random live peer, sometimes an unreachable one, and a seed under Cassandra's
 * rule. A newer heartbeat feeds the phi-accrual failure detector; a node is marked alive only
 * after an ECHO round trip; convictions come from phi, or sooner from refused connects (ADR
 * 0003). `close()` announces `shutdown` with `GOSSIP_SHUTDOWN`, which peers act on at once.
 *
 * Subscribers get typed {@link GossipEvent}s: `join`, `alive`, `dead`, `restart`, `change` and
 * `left`. Being DOWN never removes a node; only a LEFT status or {@link Gossiper.removeEndpoint}
 * does, and a removed node stays quarantined (its gossip ignored) for `quarantineDelayMs`.
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
  type EndpointStateEntry,
  type GossipDigestAck,
  type GossipDigestAck2,
  type GossipDigestSyn,
  type VersionedValue,
} from "../wire/gossip_payloads.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import type { Message } from "../wire/message.ts";
import {
  ECHO_REQ,
  GOSSIP_DIGEST_ACK,
  GOSSIP_DIGEST_ACK2,
  GOSSIP_DIGEST_SYN,
  GOSSIP_SHUTDOWN,
} from "../wire/verbs.ts";
import { EndpointStateRecord, HIGHEST_VERSION, VersionGenerator } from "./endpoint_state.ts";
import { FailureDetector } from "./failure_detector.ts";
import { type GossipConfig, resolveGossipConfig } from "./gossip_config.ts";
import {
  allStates,
  buildDigests,
  examineDigests,
  type KnownEndpoint,
  statesForDigests,
} from "./gossip_exchange.ts";
import { type GossipStatus, isDeadStatus, isLeftStatus } from "./gossip_status.ts";
import type { GenerationStore } from "./generation_store.ts";
import { LivenessProber, transportProbe } from "./liveness_prober.ts";
import {
  type DeadReason,
  type GossipEvent,
  type GossipListener,
  GossipMetrics,
} from "./gossip_events.ts";
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

interface EchoState {
  readonly generation: number;
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
  readonly #prober: LivenessProber;
  readonly #endpoints = new Map<string, KnownEndpoint>();
  readonly #quarantine = new Map<string, number>();
  readonly #echoes = new Map<string, EchoState>();
  readonly #listeners = new Set<GossipListener>();
  readonly #pendingLocalStates = new Map<number, string>();
  readonly #seedKeys: Set<string>;
  #localKey = "";
  #local: EndpointStateRecord | undefined;
  #shadow: ShadowRound | undefined;
  #roundTimer: Timer | undefined;
  #probeTimer: Timer | undefined;
  #closed = false;
  #unsubscribeLinks: (() => void) | undefined;

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
    this.#prober = new LivenessProber({
      probe: transportProbe(options.transport, this.config.livenessProbeTimeoutMs),
      refusalsToConvict: this.config.livenessProbeRefusalsToConvict,
      onConvict: (key) => this.#convict(key, "refused"),
    });
    this.#seedKeys = new Set(this.config.seeds.map(formatInetAddress));
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
    return this.#seedKeys.has(formatInetAddress(this.localAddress));
  }

  /** Subscribes to membership events; returns the unsubscribe function. */
  subscribe(listener: GossipListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Sets one of this node's application states (before or after {@link start}); it spreads
   * with the next rounds.
   */
  setLocalState(ordinal: number, value: string): void {
    if (value.length > 0xffff / 3) {
      throw new RangeError(`Cannot gossip application state ${ordinal}: value too long`);
    }
    const local = this.#local;
    let totalChars = value.length;
    const states = local?.states ??
      new Map([...this.#pendingLocalStates].map(([o, v]) => [o, { value: v, version: 0 }]));
    for (const [other, state] of states) if (other !== ordinal) totalChars += state.value.length;
    // Every state must fit in one message's byte bound (UTF-8 takes up to 3 bytes a char).
    if (3 * totalChars + 1024 > this.config.maxStateBytesPerMessage) {
      throw new RangeError(
        `Cannot gossip application state ${ordinal}: this node's states would exceed ` +
          `maxStateBytesPerMessage (${this.config.maxStateBytesPerMessage} bytes)`,
      );
    }
    if (local === undefined) {
      this.#pendingLocalStates.set(ordinal, value);
      return;
    }
    const versioned = { value, version: this.#versions.next() };
    local.set(ordinal, versioned);
    this.#emit({ type: "change", address: this.localAddress, key: this.#localKey, ordinal, value });
  }

  /**
   * Starts: takes the next generation, runs the shadow round against the seeds (unless this
   * node is the only seed), then gossips every interval.
   * @throws {UnableToGossipError} when no seed answered the shadow round in time (non-seeds)
   */
  async start(): Promise<void> {
    if (this.#local !== undefined) return;
    const nowSeconds = Math.floor(this.#clock.nowMs() / 1000);
    const generation = await this.#options.generationStore.next(nowSeconds);
    this.#localKey = formatInetAddress(this.localAddress);
    this.#registerHandlers();
    this.#unsubscribeLinks = this.#messaging.onConnectionLost((peer) =>
      this.#onConnectionLost(peer)
    );
    const otherSeeds = this.config.seeds.filter((s) => formatInetAddress(s) !== this.#localKey);
    if (this.config.shadowRound && otherSeeds.length > 0) {
      this.#shadow = new ShadowRound({
        clock: this.#clock,
        seeds: otherSeeds,
        resendMs: this.config.shadowRoundResendMs,
        timeoutMs: this.isSeed ? this.config.ringDelayMs : 2 * this.config.ringDelayMs,
        failOnTimeout: !this.isSeed,
        send: (seed) => this.#sendSyn(seed, []),
      });
      try {
        await this.#shadow.run();
      } finally {
        this.#shadow = undefined;
      }
    }
    if (this.#closed) return;
    const local = new EndpointStateRecord(generation, this.#versions.next());
    local.alive = true;
    local.updatedAtMs = this.#monotonicMs();
    this.#local = local;
    this.#endpoints.set(this.#localKey, { address: this.localAddress, record: local });
    for (const [ordinal, value] of this.#pendingLocalStates) this.setLocalState(ordinal, value);
    this.#pendingLocalStates.clear();
    this.#roundTimer = setRepeatingTimer(
      this.#clock,
      () => this.#round(),
      this.config.gossipIntervalMs,
    );
    this.#probeTimer = setRepeatingTimer(
      this.#clock,
      () => this.#probeSilentPeers(),
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
    if (this.#local !== undefined) {
      this.setLocalState(ApplicationState.STATUS_WITH_PORT, "shutdown,true");
      for (const endpoint of this.#liveEndpoints()) {
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
    return this.#endpoints.get(formatInetAddress(address))?.record.alive ?? false;
  }

  /** Phi of `address` now. */
  phi(address: InetAddressAndPort): number {
    const key = formatInetAddress(address);
    return key === this.#localKey ? 0 : this.#detector.phi(key, this.#monotonicMs());
  }

  /** The state of `address`, if known. */
  endpoint(address: InetAddressAndPort): EndpointView | undefined {
    const key = formatInetAddress(address);
    const known = this.#endpoints.get(key);
    return known === undefined ? undefined : this.#view(key, known);
  }

  /** Every known endpoint, this node included. */
  endpoints(): EndpointView[] {
    return [...this.#endpoints].map(([key, known]) => this.#view(key, known));
  }

  /**
   * Forgets `address` (a removed or evicted node): it is quarantined, so gossip about it is
   * ignored for `quarantineDelayMs`, and subscribers get `left`.
   */
  removeEndpoint(address: InetAddressAndPort): void {
    const key = formatInetAddress(address);
    if (key === this.#localKey) throw new Error("Cannot remove this node from its own gossip");
    const known = this.#endpoints.get(key);
    this.#forget(key);
    this.#quarantine.set(key, this.#monotonicMs());
    if (known !== undefined) this.#emit({ type: "left", address: known.address, key });
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
    messaging.registerHandler(GOSSIP_SHUTDOWN, (_message, from) => this.#onShutdown(from));
    messaging.registerHandler(ECHO_REQ, (message, from) => {
      // Cassandra answers echoes only once gossip runs, so a node is not marked alive early.
      if (this.#local !== undefined && !this.#closed) messaging.respond(message, from, undefined);
    });
  }

  #liveEndpoints(): KnownEndpoint[] {
    const live: KnownEndpoint[] = [];
    for (const [key, endpoint] of this.#endpoints) {
      if (key !== this.#localKey && endpoint.record.alive) live.push(endpoint);
    }
    return live;
  }

  // ---- rounds ----

  #round(): void {
    const local = this.#local;
    if (local === undefined || this.#closed) return;
    local.heartbeatVersion = this.#versions.next();
    this.metrics.rounds++;
    const digests = buildDigests(
      this.#endpoints,
      this.#localKey,
      this.#random,
      this.config.maxDigestsPerSyn,
    );
    const live = this.#liveEndpoints();
    const unreachable: KnownEndpoint[] = [];
    for (const [key, endpoint] of this.#endpoints) {
      const record = endpoint.record;
      if (key !== this.#localKey && !record.alive && !isLeftStatus(record.status)) {
        unreachable.push(endpoint);
      }
    }
    let gossipedToSeed = false;
    if (live.length > 0) {
      const peer = this.#random.pick(live);
      this.#sendSyn(peer.address, digests);
      gossipedToSeed = this.#seedKeys.has(formatInetAddress(peer.address));
    }
    if (
      unreachable.length > 0 && this.#random.nextFloat() < unreachable.length / (live.length + 1)
    ) {
      this.#sendSyn(this.#random.pick(unreachable).address, digests);
    }
    if (!gossipedToSeed || live.length < this.#seedKeys.size) {
      this.#maybeGossipToSeed(digests, live.length, unreachable.length);
    }
    this.#statusCheck();
  }

  /** Cassandra's `maybeGossipToSeed`. */
  #maybeGossipToSeed(
    digests: ReturnType<typeof buildDigests>,
    liveCount: number,
    unreachableCount: number,
  ): void {
    const seeds = this.config.seeds.filter((s) => formatInetAddress(s) !== this.#localKey);
    if (seeds.length === 0) return;
    if (liveCount === 0) {
      this.#sendSyn(this.#random.pick(seeds), digests);
      return;
    }
    const probability = this.#seedKeys.size / (liveCount + unreachableCount);
    if (this.#random.nextFloat() <= probability) this.#sendSyn(this.#random.pick(seeds), digests);
  }

  #sendSyn(to: InetAddressAndPort, digests: ReturnType<typeof buildDigests>): void {
    const syn: GossipDigestSyn = {
      clusterName: this.config.clusterName,
      partitionerName: this.config.partitionerName,
      digests,
    };
    this.#messaging.send(this.#messaging.createMessage(GOSSIP_DIGEST_SYN, syn), to);
    this.metrics.synsSent++;
  }

  #statusCheck(): void {
    const nowMs = this.#monotonicMs();
    for (const [key, endpoint] of [...this.#endpoints]) {
      if (key === this.#localKey) continue;
      const record = endpoint.record;
      if (this.#detector.interpret(key, nowMs) && record.alive) this.#convict(key, "phi");
      const status = record.status;
      if (
        isLeftStatus(status) && status !== undefined && "expireAtMs" in status &&
        status.expireAtMs < this.#clock.nowMs()
      ) {
        this.#forget(key);
        this.#quarantine.set(key, nowMs);
      }
    }
    for (const [key, sinceMs] of this.#quarantine) {
      if (nowMs - sinceMs > this.config.quarantineDelayMs) this.#quarantine.delete(key);
    }
  }

  #probeSilentPeers(): void {
    const nowMs = this.#monotonicMs();
    for (const [key, endpoint] of this.#endpoints) {
      const record = endpoint.record;
      if (key === this.#localKey || !record.alive || this.#prober.inFlight(key)) continue;
      if (
        !this.#prober.isSuspect(key, nowMs) &&
        this.#detector.silenceMs(key, nowMs) < this.config.livenessProbeAfterMs
      ) continue;
      this.#probe(key, endpoint);
    }
  }

  #probe(key: string, endpoint: KnownEndpoint): void {
    this.#prober.probe({ key, address: endpoint.address })
      .catch((error) => this.#reportError(error));
  }

  /** A link to `peer` broke: if we think it alive, ask at once whether it still listens. */
  #onConnectionLost(peer: InetAddressAndPort): void {
    const key = formatInetAddress(peer);
    const endpoint = this.#endpoints.get(key);
    if (endpoint === undefined || !endpoint.record.alive || this.#closed) return;
    this.#prober.suspect(key, this.#monotonicMs() + this.config.livenessProbeAfterMs);
    if (!this.#prober.inFlight(key)) this.#probe(key, endpoint);
  }

  #convict(key: string, reason: "phi" | "refused"): void {
    const known = this.#endpoints.get(key);
    if (known === undefined || !known.record.alive) return;
    if (reason === "phi") this.metrics.phiConvictions++;
    else this.metrics.refusedConvictions++;
    this.#markDead(key, known, reason);
  }

  #markDead(key: string, known: KnownEndpoint, reason: DeadReason): void {
    this.#prober.forget(key);
    known.record.updatedAtMs = this.#monotonicMs();
    if (!known.record.alive) return;
    known.record.alive = false;
    this.#emit({ type: "dead", address: known.address, key, reason });
  }

  #forget(key: string): void {
    this.#endpoints.delete(key);
    this.#detector.remove(key);
    this.#prober.forget(key);
    this.#echoes.delete(key);
  }

  // ---- handlers ----

  #onSyn(message: Message<GossipDigestSyn>, from: InetAddressAndPort): void {
    this.metrics.synsReceived++;
    const syn = message.payload;
    if (
      syn.clusterName !== this.config.clusterName ||
      syn.partitionerName !== this.config.partitionerName
    ) {
      this.metrics.mismatchedSyns++;
      return;
    }
    const version = this.#peerVersion(from);
    if (this.#local === undefined) {
      // In our own shadow round: answer a shadow SYN with nothing, so the sender knows a seed
      // is up; ignore real gossip until we have a state of our own.
      if (syn.digests.length === 0) this.#sendAck(from, { digests: [], endpointStates: [] });
      return;
    }
    if (syn.digests.length === 0) {
      const endpointStates = allStates(
        this.#endpoints,
        this.config.maxStateBytesPerMessage,
        version,
        this.metrics,
      );
      this.#sendAck(from, { digests: [], endpointStates });
      return;
    }
    const examination = examineDigests(
      syn.digests,
      this.#endpoints,
      this.config.maxStateBytesPerMessage,
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
    if (this.#local === undefined) return;
    this.#apply(ack.endpointStates);
    if (ack.digests.length === 0) return;
    const endpointStates = statesForDigests(
      ack.digests,
      this.#endpoints,
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
    if (this.#local === undefined) return;
    this.#apply(message.payload.endpointStates);
  }

  #onShutdown(from: InetAddressAndPort): void {
    this.metrics.shutdownsReceived++;
    const key = formatInetAddress(this.#normalize(from));
    const known = this.#endpoints.get(key);
    if (known === undefined || key === this.#localKey) return;
    // Cassandra's markAsShutdown: the highest heartbeat version keeps older gossip from
    // reviving the node; only a new generation (a restart) replaces this state.
    known.record.set(ApplicationState.STATUS_WITH_PORT, {
      value: "shutdown,true",
      version: HIGHEST_VERSION,
    });
    known.record.heartbeatVersion = HIGHEST_VERSION;
    this.#markDead(key, known, "shutdown");
    this.#emit({
      type: "change",
      address: known.address,
      key,
      ordinal: ApplicationState.STATUS_WITH_PORT,
      value: "shutdown,true",
    });
  }

  #peerVersion(peer: InetAddressAndPort): number {
    return this.#messaging.peerMessagingVersion(peer) ?? this.#messaging.config.maxVersion;
  }

  /** A version-11 address has no port; it means the cluster's shared storage port. */
  #normalize(address: InetAddressAndPort): InetAddressAndPort {
    return address.port === 0 ? { host: address.host, port: this.localAddress.port } : address;
  }

  // ---- applying remote state (Cassandra's applyStateLocally) ----

  #apply(entries: readonly EndpointStateEntry[]): void {
    const nowSeconds = this.#clock.nowMs() / 1000;
    for (const entry of entries) {
      const address = this.#normalize(entry.address);
      const key = formatInetAddress(address);
      if (key === this.#localKey || this.#quarantine.has(key)) continue;
      const remote = entry.state;
      if (remote.heartbeat.generation > nowSeconds + 86_400 * 365) {
        this.metrics.rejectedStates++;
        continue;
      }
      const known = this.#endpoints.get(key);
      if (known === undefined) {
        if (this.#endpoints.size >= this.config.maxEndpoints) {
          this.metrics.rejectedStates++;
          continue;
        }
        this.#majorChange(key, address, undefined, EndpointStateRecord.fromWire(remote));
      } else if (remote.heartbeat.generation > known.record.generation) {
        this.#majorChange(key, address, known, EndpointStateRecord.fromWire(remote));
      } else if (remote.heartbeat.generation === known.record.generation) {
        this.#applyNewer(key, known, remote);
      }
    }
  }

  #majorChange(
    key: string,
    address: InetAddressAndPort,
    previous: KnownEndpoint | undefined,
    record: EndpointStateRecord,
  ): void {
    if (previous !== undefined) {
      this.#detector.remove(key);
      this.#prober.forget(key);
      this.#echoes.delete(key);
      if (previous.record.alive) {
        previous.record.alive = false;
        this.#emit({ type: "dead", address, key, reason: "restart" });
      }
    }
    record.updatedAtMs = this.#monotonicMs();
    const endpoint = { address, record };
    this.#endpoints.set(key, endpoint);
    this.#detector.report(key, this.#monotonicMs());
    this.#emit(
      previous === undefined
        ? { type: "join", address, key, generation: record.generation }
        : { type: "restart", address, key, generation: record.generation },
    );
    for (const [ordinal, value] of record.states) {
      this.#onStateChange(endpoint, key, ordinal, value.value);
    }
    if (!isDeadStatus(record.status)) this.#echo(key, endpoint);
    else if (isLeftStatus(record.status)) this.#emit({ type: "left", address, key });
  }

  #applyNewer(
    key: string,
    known: KnownEndpoint,
    remote: EndpointStateEntry["state"],
  ): void {
    const record = known.record;
    if (remote.heartbeat.version > record.heartbeatVersion) {
      record.heartbeatVersion = remote.heartbeat.version;
      this.#detector.report(key, this.#monotonicMs());
    }
    const changed: Array<[number, string]> = [];
    for (const [ordinal, value] of remote.applicationStates) {
      const current = record.states.get(ordinal);
      if (current !== undefined && current.version >= value.version) continue;
      record.set(ordinal, value);
      changed.push([ordinal, value.value]);
    }
    if (changed.length > 0) record.updatedAtMs = this.#monotonicMs();
    const wasDead = isDeadStatus(record.status);
    for (const [ordinal, value] of changed) this.#onStateChange(known, key, ordinal, value);
    if (!record.alive && !isDeadStatus(record.status)) this.#echo(key, known);
    if (record.alive && isDeadStatus(record.status)) {
      this.#markDead(key, known, record.status?.kind === "shutdown" ? "shutdown" : "left");
    }
    if (!wasDead && isLeftStatus(record.status)) {
      this.#emit({ type: "left", address: known.address, key });
    }
  }

  #onStateChange(endpoint: KnownEndpoint, key: string, ordinal: number, value: string): void {
    if (ordinal === ApplicationState.NET_VERSION) {
      const version = Number(value);
      if (Number.isSafeInteger(version) && version > 0) {
        this.#messaging.setPeerMessagingVersion(endpoint.address, version);
      }
    }
    this.#emit({ type: "change", address: endpoint.address, key, ordinal, value });
  }

  /** Marks `key` alive after an ECHO round trip (Cassandra's markAlive → realMarkAlive). */
  #echo(key: string, endpoint: KnownEndpoint): void {
    if (this.#echoes.has(key) || this.#closed) return;
    const generation = endpoint.record.generation;
    this.#echoes.set(key, { generation });
    this.metrics.echoesSent++;
    this.#messaging.sendWithCallback(
      this.#messaging.createMessage(ECHO_REQ, undefined),
      endpoint.address,
    ).then(
      () => {
        if (this.#echoes.get(key)?.generation === generation) this.#echoes.delete(key);
        const current = this.#endpoints.get(key);
        if (
          this.#closed || current === undefined || current.record.generation !== generation ||
          current.record.alive || isDeadStatus(current.record.status)
        ) return;
        current.record.alive = true;
        current.record.updatedAtMs = this.#monotonicMs();
        this.#detector.report(key, this.#monotonicMs());
        this.#emit({ type: "alive", address: current.address, key });
      },
      () => {
        if (this.#echoes.get(key)?.generation === generation) this.#echoes.delete(key);
        this.metrics.echoesFailed++;
      },
    );
  }

  #emit(event: GossipEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#reportError(error);
      }
    }
  }

  #reportError(error: unknown): void {
    this.metrics.listenerErrors++;
    (this.#options.onError ?? console.error)(error);
  }
}
