/**
 * Settings of the gossiper, failure detector and liveness prober, with Cassandra's defaults
 * where Cassandra has the setting (PROTOCOL.md §10, `Gossiper` / `FailureDetector` constants).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveGossipConfig } from "./gossip_config.ts";
 * const config = resolveGossipConfig({ clusterName: "ring" });
 * assert.equal(config.gossipIntervalMs, 1000);
 * assert.equal(config.phiConvictThreshold, 8);
 * assert.throws(() => resolveGossipConfig({ phiConvictThreshold: 0 }), RangeError);
 * ```
 *
 * @module
 */

import { formatIpAddress, type InetAddressAndPort, parseIpAddress } from "../wire/inet_address.ts";

/** Cassandra's partitioner name, sent in every SYN; a SYN naming another is ignored. */
export const MURMUR3_PARTITIONER_NAME = "org.apache.cassandra.dht.Murmur3Partitioner";

/** Gossip settings. */
export interface GossipConfig {
  /** `cluster_name`: SYNs from another cluster are ignored. Default `"Test Cluster"`. */
  readonly clusterName: string;
  /** Partitioner name carried in SYNs. */
  readonly partitionerName: string;
  /** `seeds`: where a node starts gossiping (it may list itself). */
  readonly seeds: readonly InetAddressAndPort[];
  /** One gossip round per interval; Cassandra: 1000 ms. */
  readonly gossipIntervalMs: number;
  /** `phi_convict_threshold`; Cassandra: 8. */
  readonly phiConvictThreshold: number;
  /** Inter-arrival times kept per peer; Cassandra: 1000. */
  readonly failureDetectorWindowSize: number;
  /** Seed interval at a peer's first heartbeat (`fd_initial_value_ms`); Cassandra: 2000 ms. */
  readonly failureDetectorInitialIntervalMs: number;
  /** Longer heartbeat gaps are not recorded (`fd_max_interval_ms`); Cassandra: 2000 ms. */
  readonly failureDetectorMaxIntervalMs: number;
  /** A gap between rounds over this is a local pause (`max_local_pause_in_ms`); 5000 ms. */
  readonly maxLocalPauseMs: number;
  /** `ring_delay_ms`: how long a seed's shadow round waits (twice that for a non-seed); 30 s. */
  readonly ringDelayMs: number;
  /** The shadow round resends its empty SYN this often; Cassandra: 5000 ms. */
  readonly shadowRoundResendMs: number;
  /** Whether to run the shadow round at start (off only in tests of a lone node). */
  readonly shadowRound: boolean;
  /** Gossip about a removed node is ignored this long (`gossip_quarantine_delay_ms`); 60 s. */
  readonly quarantineDelayMs: number;
  /** A LEFT node is forgotten this long after it left (`very_long_time_ms`); 3 days. */
  readonly leftExpiryMs: number;
  /** Most endpoints tracked; gossip naming more new ones is dropped and counted. */
  readonly maxEndpoints: number;
  /** Most digests in one SYN (shuffled, so every endpoint takes its turn). */
  readonly maxDigestsPerSyn: number;
  /** Most endpoint-state bytes in one ACK or ACK2; the rest follows in later rounds. */
  readonly maxStateBytesPerMessage: number;
  /**
   * A live peer silent at least this long, and with phi at least {@link livenessProbePhi}, is
   * probed with a TCP connect (ADR 0003); also how long a peer stays suspect after a link loss.
   */
  readonly livenessProbeAfterMs: number;
  /**
   * Phi at which a silent peer is probed: 2 is about 4.6 mean heartbeat intervals, rare for a
   * healthy peer, so probes stay few in large clusters (link loss probes at once regardless).
   */
  readonly livenessProbePhi: number;
  /** Whether refused-connect probes may convict at all (off: phi alone decides). */
  readonly livenessProbes: boolean;
  /** How often silent peers are probed. */
  readonly livenessProbeIntervalMs: number;
  /** How long a probe's connect may take before it counts as no answer. */
  readonly livenessProbeTimeoutMs: number;
  /** Consecutive refused probes that convict a peer. */
  readonly livenessProbeRefusalsToConvict: number;
}

/** Cassandra's defaults (and Ringwire's for the settings Cassandra lacks). */
export const GOSSIP_CONFIG_DEFAULTS: GossipConfig = Object.freeze({
  clusterName: "Test Cluster",
  partitionerName: MURMUR3_PARTITIONER_NAME,
  seeds: [],
  gossipIntervalMs: 1000,
  phiConvictThreshold: 8,
  failureDetectorWindowSize: 1000,
  failureDetectorInitialIntervalMs: 2000,
  failureDetectorMaxIntervalMs: 2000,
  maxLocalPauseMs: 5000,
  ringDelayMs: 30_000,
  shadowRoundResendMs: 5000,
  shadowRound: true,
  quarantineDelayMs: 60_000,
  leftExpiryMs: 3 * 24 * 3600 * 1000,
  maxEndpoints: 10_000,
  maxDigestsPerSyn: 4096,
  maxStateBytesPerMessage: 1024 * 1024,
  livenessProbeAfterMs: 1000,
  livenessProbePhi: 2,
  livenessProbes: true,
  livenessProbeIntervalMs: 250,
  livenessProbeTimeoutMs: 1000,
  livenessProbeRefusalsToConvict: 2,
});

/**
 * The defaults overridden by `overrides`, validated.
 * @throws {RangeError} naming the first setting out of range
 */
export function resolveGossipConfig(overrides: Partial<GossipConfig> = {}): GossipConfig {
  const merged: GossipConfig = { ...GOSSIP_CONFIG_DEFAULTS, ...overrides };
  // Seeds are compared with addresses read off the wire, which are canonical IP literals.
  const config: GossipConfig = {
    ...merged,
    seeds: merged.seeds.map((seed) => {
      let bytes: Uint8Array;
      try {
        bytes = parseIpAddress(seed.host);
      } catch {
        throw new RangeError(
          `Cannot configure gossip: seed "${seed.host}" is not an IP address (resolve names first)`,
        );
      }
      if (!Number.isSafeInteger(seed.port) || seed.port < 1 || seed.port > 65535) {
        throw new RangeError(`Cannot configure gossip: seed port ${seed.port} is out of range`);
      }
      return { host: formatIpAddress(bytes), port: seed.port };
    }),
  };
  if (config.clusterName.length === 0 || config.clusterName.length > 256) {
    throw new RangeError("Cannot configure gossip: clusterName must be 1 to 256 characters");
  }
  if (!(config.phiConvictThreshold > 0 && config.phiConvictThreshold <= 1000)) {
    throw new RangeError(
      `Cannot configure gossip: phiConvictThreshold must be in (0, 1000], got ${config.phiConvictThreshold}`,
    );
  }
  const positive: Array<keyof GossipConfig> = [
    "gossipIntervalMs",
    "failureDetectorWindowSize",
    "failureDetectorInitialIntervalMs",
    "failureDetectorMaxIntervalMs",
    "maxLocalPauseMs",
    "ringDelayMs",
    "shadowRoundResendMs",
    "quarantineDelayMs",
    "leftExpiryMs",
    "maxEndpoints",
    "maxDigestsPerSyn",
    "maxStateBytesPerMessage",
    "livenessProbeAfterMs",
    "livenessProbeIntervalMs",
    "livenessProbeTimeoutMs",
    "livenessProbeRefusalsToConvict",
  ];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot configure gossip: ${key} must be an integer >= 1, got ${String(value)}`,
      );
    }
  }
  if (!(config.livenessProbePhi >= 0 && config.livenessProbePhi <= 1000)) {
    throw new RangeError(
      `Cannot configure gossip: livenessProbePhi must be in [0, 1000], got ${config.livenessProbePhi}`,
    );
  }
  if (typeof config.livenessProbes !== "boolean") {
    throw new RangeError("Cannot configure gossip: livenessProbes must be a boolean");
  }
  // Gossip messages are dropped above GOSSIP_MESSAGE_SIZE_BYTES_MAX (4 MiB); stay well below.
  if (config.maxStateBytesPerMessage > 2 * 1024 * 1024 || config.maxDigestsPerSyn > 65_536) {
    throw new RangeError(
      "Cannot configure gossip: maxStateBytesPerMessage must be at most 2 MiB and " +
        "maxDigestsPerSyn at most 65536 (a gossip message is at most 4 MiB)",
    );
  }
  if (config.maxStateBytesPerMessage < 64 * 1024) {
    throw new RangeError(
      "Cannot configure gossip: maxStateBytesPerMessage must be at least 65536 (one full state)",
    );
  }
  return Object.freeze(config);
}
