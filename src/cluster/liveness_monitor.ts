/**
 * When to probe which peer (ADR 0003): the policy around the {@link LivenessProber}. A peer whose
 * link just broke is suspect and probed at once and then every tick for the suspicion window; a
 * live peer that has been silent unusually long (phi ≥ `livenessProbePhi` and at least
 * `livenessProbeAfterMs`) is probed at most once per `livenessProbeAfterMs`. Refusals convict
 * through `onConvict`; anything else leaves the verdict to phi.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LivenessMonitor } from "./liveness_monitor.ts";
 * import { FailureDetector } from "./failure_detector.ts";
 * import { resolveGossipConfig } from "./gossip_config.ts";
 * import { GossipMetrics } from "./gossip_events.ts";
 * const convicted: string[] = [];
 * const peer = { address: { host: "10.0.0.2", port: 7000 }, record: { alive: true } };
 * const monitor = new LivenessMonitor({
 *   config: resolveGossipConfig(), detector: new FailureDetector(), metrics: new GossipMetrics(),
 *   probe: () => Promise.resolve("refused"), monotonicMs: () => 0, onError: () => {},
 *   peers: () => new Map([["10.0.0.2:7000", peer]]), isLocal: () => false,
 *   onConvict: (key) => convicted.push(key),
 * });
 * const settle = async () => {
 *   for (let i = 0; i < 5; i++) await Promise.resolve(); // let the probes' answers arrive
 * };
 * monitor.connectionLost("10.0.0.2:7000"); // probed at once: refused
 * await settle();
 * monitor.tick(); // suspect: probed again, refused again
 * await settle();
 * assert.deepEqual(convicted, ["10.0.0.2:7000"]);
 * ```
 *
 * @module
 */

import type { InetAddressAndPort } from "../wire/inet_address.ts";
import type { FailureDetector } from "./failure_detector.ts";
import type { GossipConfig } from "./gossip_config.ts";
import type { GossipMetrics } from "./gossip_events.ts";
import { LivenessProber, type Probe } from "./liveness_prober.ts";

/** A peer as the monitor sees it. */
export interface MonitoredPeer {
  /** Its internode address. */
  readonly address: InetAddressAndPort;
  /** Whether it is considered alive (only live peers are probed). */
  readonly record: { readonly alive: boolean };
}

/** What a {@link LivenessMonitor} needs. */
export interface LivenessMonitorOptions {
  /** Probe settings (`livenessProbes`, `livenessProbeAfterMs`, `livenessProbePhi`, refusals). */
  readonly config: GossipConfig;
  /** Silence and phi per peer. */
  readonly detector: FailureDetector;
  /** Counts probes sent. */
  readonly metrics: GossipMetrics;
  /** How to reach a peer. */
  readonly probe: Probe;
  /** Monotonic ms. */
  readonly monotonicMs: () => number;
  /** The known endpoints by key (this node's included: `isLocal` tells it apart). */
  readonly peers: () => ReadonlyMap<string, MonitoredPeer>;
  /** Whether `key` is this node (never probed). */
  readonly isLocal: (key: string) => boolean;
  /** A peer refused enough probes in a row. */
  readonly onConvict: (key: string) => void;
  /** Receives errors of probes. */
  readonly onError: (error: unknown) => void;
}

/** Decides which peers to probe, and probes them. */
export class LivenessMonitor {
  readonly #options: LivenessMonitorOptions;
  readonly #prober: LivenessProber;
  #lastSilenceScanMs = -Infinity;

  constructor(options: LivenessMonitorOptions) {
    this.#options = options;
    this.#prober = new LivenessProber({
      probe: options.probe,
      refusalsToConvict: options.config.livenessProbeRefusalsToConvict,
      onConvict: options.onConvict,
    });
  }

  /** One probe round: every suspect, and (once per window) every unusually silent live peer. */
  tick(): void {
    const { config, detector, monotonicMs, peers } = this.#options;
    if (!config.livenessProbes) return;
    const nowMs = monotonicMs();
    const known = peers();
    for (const key of this.#prober.suspects(nowMs)) {
      const peer = known.get(key);
      if (peer?.record.alive && !this.#prober.inFlight(key)) this.#probe(key, peer);
    }
    // The scan touches every peer, so it runs only as often as a silent peer may be probed.
    if (nowMs - this.#lastSilenceScanMs < config.livenessProbeAfterMs) return;
    this.#lastSilenceScanMs = nowMs;
    for (const [key, peer] of known) {
      if (this.#options.isLocal(key)) continue;
      if (!peer.record.alive || this.#prober.inFlight(key) || this.#prober.isSuspect(key, nowMs)) {
        continue;
      }
      if (detector.silenceMs(key, nowMs) < config.livenessProbeAfterMs) continue;
      if (detector.phi(key, nowMs) < config.livenessProbePhi) continue;
      this.#probe(key, peer);
    }
  }

  /** A link to `key` broke: if it is alive, ask at once whether it still listens. */
  connectionLost(key: string): void {
    const { config, monotonicMs, peers } = this.#options;
    if (!config.livenessProbes) return;
    const peer = peers().get(key);
    if (peer === undefined || !peer.record.alive || this.#options.isLocal(key)) return;
    this.#prober.suspect(key, monotonicMs() + config.livenessProbeAfterMs);
    if (!this.#prober.inFlight(key)) this.#probe(key, peer);
  }

  /** Forgets `key` (it was convicted, restarted or left). */
  forget(key: string): void {
    this.#prober.forget(key);
  }

  #probe(key: string, peer: MonitoredPeer): void {
    this.#options.metrics.probesSent++;
    this.#prober.probe({ key, address: peer.address }).catch(this.#options.onError);
  }
}
