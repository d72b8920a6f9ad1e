/**
 * Every endpoint a node knows, and the rules for changing them (Cassandra's `endpointStateMap`
 * with `applyStateLocally`, `handleMajorStateChange`, `markAlive`/`markDead` and quarantine):
 *
 * - remote state is applied only when newer: a higher generation replaces the whole state (a
 *   restart), the same generation merges states with higher versions, a lower one is ignored;
 * - gossip about this node, about quarantined nodes, and from the far future is ignored;
 * - a newer heartbeat feeds the failure detector;
 * - liveness changes only through {@link EndpointStateMap.markAlive} (after an ECHO round trip,
 *   which the owner sends when asked through `requestAlive`) and
 *   {@link EndpointStateMap.markDead};
 * - subscribers get a typed event for each change.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EndpointStateMap } from "./endpoint_state_map.ts";
 * import { FailureDetector } from "./failure_detector.ts";
 * import { resolveGossipConfig } from "./gossip_config.ts";
 * import { GossipMetrics } from "./gossip_events.ts";
 * const asked: string[] = [];
 * const map = new EndpointStateMap({
 *   config: resolveGossipConfig(), detector: new FailureDetector(), metrics: new GossipMetrics(),
 *   nowMs: () => 1_700_000_000_000, monotonicMs: () => 0, onError: () => {},
 *   requestAlive: (key) => asked.push(key), onReset: () => {}, onNetVersion: () => {},
 * });
 * const address = { host: "10.0.0.2", port: 7000 };
 * const state = { heartbeat: { generation: 1_700_000_000, version: 3 }, applicationStates: new Map() };
 * map.apply([{ address, state }], 7000);
 * assert.deepEqual(asked, ["10.0.0.2:7000"]); // known now; alive only after an ECHO
 * map.markAlive("10.0.0.2:7000", 1_700_000_000);
 * assert.equal(map.get("10.0.0.2:7000")?.record.alive, true);
 * ```
 *
 * @module
 */

import { ApplicationState, type EndpointStateEntry } from "../wire/gossip_payloads.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import { EndpointStateRecord, HIGHEST_VERSION } from "./endpoint_state.ts";
import type { FailureDetector } from "./failure_detector.ts";
import type { GossipConfig } from "./gossip_config.ts";
import type { DeadReason, GossipEvent, GossipListener, GossipMetrics } from "./gossip_events.ts";
import type { KnownEndpoint } from "./gossip_exchange.ts";
import { isDeadStatus, isLeftStatus } from "./gossip_status.ts";

/**
 * A GOSSIP_SHUTDOWN sent this long before the generation we know began is from an earlier
 * incarnation (generations can run a little ahead of the clock: `stored + 1`).
 */
const SHUTDOWN_CLOCK_SLACK_MS = 5_000;

/** Most application states one endpoint may carry (Cassandra defines 29 ordinals). */
export const MAX_APPLICATION_STATES = 64;

/** A remote generation this far ahead of our clock is corrupt (Cassandra: one year). */
const MAX_GENERATION_AHEAD_SECONDS = 86_400 * 365;

/** What an {@link EndpointStateMap} needs from its owner. */
export interface EndpointStateMapOptions {
  /** Gossip settings (endpoint bound, quarantine delay). */
  readonly config: GossipConfig;
  /** Fed with newer heartbeats; reset on restarts and removals. */
  readonly detector: FailureDetector;
  /** Counters. */
  readonly metrics: GossipMetrics;
  /** Wall clock, epoch ms (generation sanity, LEFT expiry). */
  readonly nowMs: () => number;
  /** Monotonic ms (detector, quarantine). */
  readonly monotonicMs: () => number;
  /** Receives errors thrown by subscribers. */
  readonly onError: (error: unknown) => void;
  /** A peer is known and not in a dead state: confirm it (ECHO), then call `markAlive`. */
  readonly requestAlive: (key: string, endpoint: KnownEndpoint) => void;
  /** A peer's state was replaced or dropped: forget per-peer side state (probes, echoes). */
  readonly onReset: (key: string) => void;
  /** A peer announced its messaging version (NET_VERSION). */
  readonly onNetVersion: (address: InetAddressAndPort, version: number) => void;
}

/** The endpoint states of one node's gossip. */
export class EndpointStateMap {
  readonly #options: EndpointStateMapOptions;
  readonly #endpoints = new Map<string, KnownEndpoint>();
  readonly #quarantine = new Map<string, number>();
  readonly #listeners = new Set<GossipListener>();
  #localKey = "";

  constructor(options: EndpointStateMapOptions) {
    this.#options = options;
  }

  /** Every known endpoint by key, this node's included. */
  get entries(): ReadonlyMap<string, KnownEndpoint> {
    return this.#endpoints;
  }

  /** The endpoint with `key`, if known. */
  get(key: string): KnownEndpoint | undefined {
    return this.#endpoints.get(key);
  }

  /** Registers this node's own record (alive by definition). */
  setLocal(address: InetAddressAndPort, record: EndpointStateRecord): void {
    this.#localKey = formatInetAddress(address);
    record.alive = true;
    record.updatedAtMs = this.#options.monotonicMs();
    this.#endpoints.set(this.#localKey, { address, record });
  }

  /** Subscribes to membership events; returns the unsubscribe function. */
  subscribe(listener: GossipListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Peers considered alive. */
  live(): KnownEndpoint[] {
    const live: KnownEndpoint[] = [];
    for (const [key, endpoint] of this.#endpoints) {
      if (key !== this.#localKey && endpoint.record.alive) live.push(endpoint);
    }
    return live;
  }

  /** Peers considered down that have not left (worth a SYN now and then). */
  unreachable(): KnownEndpoint[] {
    const unreachable: KnownEndpoint[] = [];
    for (const [key, endpoint] of this.#endpoints) {
      const record = endpoint.record;
      if (key !== this.#localKey && !record.alive && !isLeftStatus(record.status)) {
        unreachable.push(endpoint);
      }
    }
    return unreachable;
  }

  /** Applies remote states (from an ACK or ACK2), each only when newer. */
  apply(entries: readonly EndpointStateEntry[], defaultPort: number): void {
    const nowSeconds = this.#options.nowMs() / 1000;
    const metrics = this.#options.metrics;
    for (const entry of entries) {
      // A version-11 address has no port; it means the cluster's shared storage port.
      const address = entry.address.port === 0
        ? { host: entry.address.host, port: defaultPort }
        : entry.address;
      const key = formatInetAddress(address);
      if (key === this.#localKey || this.#quarantine.has(key)) continue;
      const remote = entry.state;
      if (
        remote.heartbeat.generation > nowSeconds + MAX_GENERATION_AHEAD_SECONDS ||
        remote.applicationStates.size > MAX_APPLICATION_STATES
      ) {
        metrics.rejectedStates++;
        continue;
      }
      const known = this.#endpoints.get(key);
      if (known === undefined) {
        if (this.#endpoints.size >= this.#options.config.maxEndpoints) {
          metrics.rejectedStates++;
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

  /** The ECHO of `key` at `generation` came back: mark it alive, unless things moved on. */
  markAlive(key: string, generation: number): void {
    const known = this.#endpoints.get(key);
    if (
      known === undefined || known.record.generation !== generation || known.record.alive ||
      isDeadStatus(known.record.status)
    ) return;
    known.record.alive = true;
    known.record.updatedAtMs = this.#options.monotonicMs();
    this.#options.detector.report(key, this.#options.monotonicMs());
    this.#emit({ type: "alive", address: known.address, key });
  }

  /** Marks `key` down (it stays known: DOWN never removes a node). */
  markDead(key: string, reason: DeadReason): void {
    const known = this.#endpoints.get(key);
    if (known === undefined || key === this.#localKey) return;
    this.#options.onReset(key);
    known.record.updatedAtMs = this.#options.monotonicMs();
    if (!known.record.alive) return;
    known.record.alive = false;
    this.#emit({ type: "dead", address: known.address, key, reason });
  }

  /**
   * `key` said, at `sentAtMs` (its clock), that it is shutting down (GOSSIP_SHUTDOWN):
   * Cassandra's markAsShutdown. The highest heartbeat version keeps older gossip from reviving
   * it; only a new generation replaces it. Ignored for a node that has left (its LEFT must
   * stand), one already marked, and a message older than the incarnation we know (a delayed
   * shutdown of the previous process must not pin a restarted node down).
   */
  markAsShutdown(key: string, sentAtMs: number): void {
    const known = this.#endpoints.get(key);
    if (known === undefined || key === this.#localKey) return;
    const status = known.record.status;
    if (isLeftStatus(status) || status?.kind === "shutdown") return;
    // The generation is the start time in seconds (or a little ahead of it, after a fast
    // restart or a clock step back): allow that much before calling a message old.
    if (sentAtMs < known.record.generation * 1000 - SHUTDOWN_CLOCK_SLACK_MS) return;
    const value = "shutdown,true";
    known.record.set(ApplicationState.STATUS_WITH_PORT, { value, version: HIGHEST_VERSION });
    known.record.heartbeatVersion = HIGHEST_VERSION;
    this.markDead(key, "shutdown");
    const ordinal = ApplicationState.STATUS_WITH_PORT;
    this.#emit({ type: "change", address: known.address, key, ordinal, value });
  }

  /** Forgets `key` and quarantines it; subscribers get `left` if it was known. */
  remove(key: string): void {
    if (key === this.#localKey) throw new Error("Cannot remove this node from its own gossip");
    const known = this.#endpoints.get(key);
    this.#forget(key);
    this.#quarantine.set(key, this.#options.monotonicMs());
    if (known !== undefined) this.#emit({ type: "left", address: known.address, key });
  }

  /**
   * Forgets nodes whose LEFT status expired and, like Cassandra's fat-client eviction, down
   * nodes that never announced a status and whose heartbeat has not advanced for half the
   * quarantine delay (30 s): they are not ring members, so nothing needs them kept. Ends old
   * quarantines.
   */
  expire(): void {
    const nowMs = this.#options.monotonicMs();
    const wallMs = this.#options.nowMs();
    const fatClientTimeoutMs = this.#options.config.quarantineDelayMs / 2;
    for (const [key, endpoint] of [...this.#endpoints]) {
      if (key === this.#localKey) continue;
      const status = endpoint.record.status;
      if (
        status === undefined && !endpoint.record.alive &&
        nowMs - endpoint.record.updatedAtMs > fatClientTimeoutMs
      ) {
        // Forgotten, not quarantined: if it comes back, its next gossip re-adds it at once.
        const address = endpoint.address;
        this.#forget(key);
        this.#emit({ type: "left", address, key });
        continue;
      }
      if (
        (status?.kind === "LEFT" || status?.kind === "removed") && status.expireAtMs < wallMs
      ) {
        this.#forget(key);
        this.#quarantine.set(key, nowMs);
      }
    }
    for (const [key, sinceMs] of this.#quarantine) {
      if (nowMs - sinceMs > this.#options.config.quarantineDelayMs) this.#quarantine.delete(key);
    }
  }

  /** Sends `event` to every subscriber; a throwing subscriber is reported, not propagated. */
  emit(event: GossipEvent): void {
    this.#emit(event);
  }

  #forget(key: string): void {
    this.#endpoints.delete(key);
    this.#options.detector.remove(key);
    this.#options.onReset(key);
  }

  #majorChange(
    key: string,
    address: InetAddressAndPort,
    previous: KnownEndpoint | undefined,
    record: EndpointStateRecord,
  ): void {
    const { detector, monotonicMs } = this.#options;
    if (previous !== undefined) {
      detector.remove(key);
      this.#options.onReset(key);
      if (previous.record.alive) {
        previous.record.alive = false;
        this.#emit({ type: "dead", address, key, reason: "restart" });
      }
    }
    record.updatedAtMs = monotonicMs();
    const endpoint = { address, record };
    this.#endpoints.set(key, endpoint);
    detector.report(key, monotonicMs());
    this.#emit(
      previous === undefined
        ? { type: "join", address, key, generation: record.generation }
        : { type: "restart", address, key, generation: record.generation },
    );
    for (const [ordinal, value] of record.states) {
      this.#onStateChange(endpoint, key, ordinal, value.value);
    }
    if (!isDeadStatus(record.status)) this.#options.requestAlive(key, endpoint);
    else if (isLeftStatus(record.status)) this.#emit({ type: "left", address, key });
  }

  #applyNewer(key: string, known: KnownEndpoint, remote: EndpointStateEntry["state"]): void {
    const record = known.record;
    const { monotonicMs } = this.#options;
    if (remote.heartbeat.version > record.heartbeatVersion) {
      record.heartbeatVersion = remote.heartbeat.version;
      record.updatedAtMs = monotonicMs();
      this.#options.detector.report(key, monotonicMs());
    }
    const wasLeft = isLeftStatus(record.status);
    const changed: Array<[number, string]> = [];
    for (const [ordinal, value] of remote.applicationStates) {
      const current = record.states.get(ordinal);
      if (current !== undefined && current.version >= value.version) continue;
      record.set(ordinal, value);
      changed.push([ordinal, value.value]);
    }
    if (changed.length > 0) record.updatedAtMs = monotonicMs();
    for (const [ordinal, value] of changed) this.#onStateChange(known, key, ordinal, value);
    const status = record.status;
    if (!record.alive && !isDeadStatus(status)) this.#options.requestAlive(key, known);
    if (record.alive && isDeadStatus(status)) {
      this.markDead(key, status?.kind === "shutdown" ? "shutdown" : "left");
    }
    if (!wasLeft && isLeftStatus(status)) this.#emit({ type: "left", address: known.address, key });
  }

  #onStateChange(endpoint: KnownEndpoint, key: string, ordinal: number, value: string): void {
    if (ordinal === ApplicationState.NET_VERSION) {
      const version = Number(value);
      if (Number.isSafeInteger(version) && version > 0) {
        this.#options.onNetVersion(endpoint.address, version);
      }
    }
    this.#emit({ type: "change", address: endpoint.address, key, ordinal, value });
  }

  #emit(event: GossipEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#options.metrics.listenerErrors++;
        this.#options.onError(error);
      }
    }
  }
}
