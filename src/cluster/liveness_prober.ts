/**
 * Fast conviction of peers whose process is gone (ADR 0003). Phi-accrual needs about 18 s of
 * silence at 1 s heartbeats to convict, because silence alone cannot tell a dead process from a
 * slow or partitioned one. A refused TCP connect can: the peer's host answered, and nothing
 * listens on the peer's port. So a live peer that has been silent for a while is probed with a
 * bare connect, and so is a peer whose connection just broke; after `refusalsToConvict` refusals
 * in a row it is convicted. A connect that is accepted (a stalled process still has its listening socket)
 * or that gets no answer (a hung host, a partition) proves nothing and leaves the verdict to phi.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LivenessProber } from "./liveness_prober.ts";
 * const convicted: string[] = [];
 * const prober = new LivenessProber({
 *   probe: () => Promise.resolve("refused"),
 *   refusalsToConvict: 2,
 *   onConvict: (key) => convicted.push(key),
 * });
 * const peer = { key: "10.0.0.2:7000", address: { host: "10.0.0.2", port: 7000 } };
 * await prober.probe(peer);
 * assert.deepEqual(convicted, []);
 * await prober.probe(peer);
 * assert.deepEqual(convicted, ["10.0.0.2:7000"]);
 * ```
 *
 * @module
 */

import { ConnectionRefusedError } from "../net/errors.ts";
import type { Transport } from "../net/transport.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";

/** What a probe learned: a listener answered, the host refused, or nothing answered. */
export type ProbeOutcome = "accepted" | "refused" | "no-answer";

/** Tries to reach a peer's internode port. */
export type Probe = (address: InetAddressAndPort) => Promise<ProbeOutcome>;

/** A probe that opens a connection with `transport` and closes it at once, before any byte. */
export function transportProbe(transport: Transport, timeoutMs: number): Probe {
  return async (address) => {
    try {
      const connection = await transport.connect(address, { timeoutMs });
      connection.close();
      return "accepted";
    } catch (error) {
      return error instanceof ConnectionRefusedError ? "refused" : "no-answer";
    }
  };
}

/** Options of a {@link LivenessProber}. */
export interface LivenessProberOptions {
  /** How to reach a peer. */
  readonly probe: Probe;
  /** Refusals in a row that convict. */
  readonly refusalsToConvict: number;
  /** Called once per conviction. */
  readonly onConvict: (key: string) => void;
}

/** A peer to probe. */
export interface ProbeTarget {
  /** The peer's key (`host:port`). */
  readonly key: string;
  /** Its internode address. */
  readonly address: InetAddressAndPort;
}

interface ProbeState {
  inFlight: boolean;
  refusals: number;
  /** Probed every round until then, silent or not (its link broke). */
  suspectUntilMs: number;
}

/** Counters of a {@link LivenessProber}. */
export interface LivenessProberMetrics {
  /** Probes sent. */
  probes: number;
  /** Probes refused. */
  refused: number;
  /** Peers convicted by refusals. */
  convictions: number;
}

/** Probes silent or suspect peers and convicts those whose port refuses connections. */
export class LivenessProber {
  /** Counters. */
  readonly metrics: LivenessProberMetrics = { probes: 0, refused: 0, convictions: 0 };
  readonly #options: LivenessProberOptions;
  readonly #states = new Map<string, ProbeState>();

  constructor(options: LivenessProberOptions) {
    if (!Number.isSafeInteger(options.refusalsToConvict) || options.refusalsToConvict < 1) {
      throw new RangeError("Cannot create liveness prober: refusalsToConvict must be >= 1");
    }
    this.#options = options;
  }

  /** Whether a probe of `key` is under way. */
  inFlight(key: string): boolean {
    return this.#states.get(key)?.inFlight ?? false;
  }

  /**
   * Whether `key` is suspect at `nowMs`, so it is probed every round, silent or not: a probe
   * was refused, or its link broke less than the suspicion window ago.
   */
  isSuspect(key: string, nowMs: number): boolean {
    const state = this.#states.get(key);
    if (state === undefined) return false;
    if (state.refusals > 0 || nowMs < state.suspectUntilMs) return true;
    if (!state.inFlight) this.#states.delete(key);
    return false;
  }

  /** The keys suspect at `nowMs` (see {@link isSuspect}); lapsed suspicions are forgotten. */
  suspects(nowMs: number): string[] {
    const keys: string[] = [];
    for (const key of this.#states.keys()) if (this.isSuspect(key, nowMs)) keys.push(key);
    return keys;
  }

  /**
   * Marks `key` suspect until `untilMs` (its connection was lost). The window matters: a process
   * being killed closes its connections before its listener, so the first probe can still be
   * accepted; the ones after are refused.
   */
  suspect(key: string, untilMs: number): void {
    const state = this.#state(key);
    state.suspectUntilMs = Math.max(state.suspectUntilMs, untilMs);
  }

  /**
   * Probes `target` once (no-op while a probe of it is in flight). Refusals count up to a
   * conviction; an accepted probe or one with no answer resets the count.
   * Heartbeats do not reset the count: for a while after a crash, other nodes still relay the
   * dead node's last heartbeats, and a refused port is the stronger evidence.
   */
  async probe(target: ProbeTarget): Promise<void> {
    const state = this.#state(target.key);
    if (state.inFlight) return;
    state.inFlight = true;
    this.metrics.probes++;
    let outcome: ProbeOutcome;
    try {
      outcome = await this.#options.probe(target.address);
    } finally {
      state.inFlight = false;
    }
    if (this.#states.get(target.key) !== state) return; // forgotten meanwhile
    if (outcome !== "refused") {
      state.refusals = 0;
      return;
    }
    this.metrics.refused++;
    if (++state.refusals >= this.#options.refusalsToConvict) {
      this.#states.delete(target.key);
      this.metrics.convictions++;
      this.#options.onConvict(target.key);
    }
  }

  /** Forgets `key`: it was convicted otherwise, restarted, or left. */
  forget(key: string): void {
    this.#states.delete(key);
  }

  #state(key: string): ProbeState {
    let state = this.#states.get(key);
    if (state === undefined) {
      state = { inFlight: false, refusals: 0, suspectUntilMs: -Infinity };
      this.#states.set(key, state);
    }
    return state;
  }
}
