/**
 * Every bound and knob of the links layer, with Cassandra 4.0's defaults (PROTOCOL.md §6–§7).
 * The node's YAML names are in brackets; `resolveMessagingConfig` fills defaults and refuses
 * combinations that cannot work.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveMessagingConfig } from "./messaging_config.ts";
 * const config = resolveMessagingConfig({ internodeCompression: "all" });
 * assert.equal(config.sendQueueCapacityBytes, 4 * 1024 * 1024);
 * assert.throws(() => resolveMessagingConfig({ maxMessageSizeBytes: 1 << 30 }));
 * ```
 *
 * @module
 */

import { MAX_SUPPORTED_VERSION, MIN_SUPPORTED_VERSION } from "../wire/message.ts";

const MiB = 1024 * 1024;

/** When links compress with LZ4 [`internode_compression`]. */
export type InternodeCompression = "none" | "dc" | "all";

/** The links layer's configuration. */
export interface MessagingConfig {
  /** Lowest messaging version accepted [`messaging.min_version`]; default 11. */
  readonly minVersion: number;
  /** Highest messaging version spoken [`messaging.max_version`]; default 12. */
  readonly maxVersion: number;
  /** LZ4 for all links, cross-datacenter links only, or none [`internode_compression`]. */
  readonly internodeCompression: InternodeCompression;
  /** Frames without payload CRC, for trusted networks only [`internode_unprotected_framing`]. */
  readonly unprotectedFraming: boolean;
  /** Per-link send budget [`internode_application_send_queue_capacity`]; 4 MiB. */
  readonly sendQueueCapacityBytes: number;
  /** Per-peer send reserve, shared by its links; 128 MiB. */
  readonly sendQueueReserveEndpointCapacityBytes: number;
  /** Node-wide send reserve, shared by all peers; 512 MiB. */
  readonly sendQueueReserveGlobalCapacityBytes: number;
  /** Per-link receive budget [`internode_application_receive_queue_capacity`]; 4 MiB. */
  readonly receiveQueueCapacityBytes: number;
  /** Per-peer receive reserve; 128 MiB. */
  readonly receiveQueueReserveEndpointCapacityBytes: number;
  /** Node-wide receive reserve; 512 MiB. */
  readonly receiveQueueReserveGlobalCapacityBytes: number;
  /** Largest message sent or accepted [`internode_max_message_size`]; 128 MiB. */
  readonly maxMessageSizeBytes: number;
  /** A link unwritable this long is closed and its messages failed; 30 s. */
  readonly applicationTimeoutMs: number;
  /** TCP connect timeout [`internode_tcp_connect_timeout`]; 2 s. */
  readonly tcpConnectTimeoutMs: number;
  /** Whole handshake must finish within this; 30 s (3 × request timeout). */
  readonly handshakeTimeoutMs: number;
  /** First reconnect delay floor; 100 ms. */
  readonly reconnectDelayMsMin: number;
  /** Reconnect delay ceiling (the delay doubles up to it); 1 s. */
  readonly reconnectDelayMsMax: number;
  /** How often queued messages of a disconnected link are checked for expiry; 100 ms. */
  readonly expiryPruneIntervalMs: number;
  /** A link with nothing to send for this long closes its connection; 5 min. */
  readonly idleConnectionTimeoutMs: number;
  /** Messages larger than this use the large link; 65515 bytes (64 KiB − frame overhead). */
  readonly largeMessageThresholdBytes: number;
  /** Frame payload size on small and urgent links; 64 KiB. */
  readonly smallFramePayloadBytes: number;
  /** Frame payload size of a large message's pieces; 32 KiB. */
  readonly largeFramePayloadBytes: number;
  /** Bound on messages waiting in one handler stage's queue; 65536. */
  readonly stageQueueCapacityMessages: number;
  /**
   * Longest `close()` waits for queued messages to be written before failing the rest; 10 s.
   * Links to unreachable peers never wait (Ringwire's own bound; Cassandra bounds its shutdown).
   */
  readonly closeDrainTimeoutMs: number;
}

/** Cassandra 4.0's defaults. */
export const DEFAULT_MESSAGING_CONFIG: MessagingConfig = {
  minVersion: MIN_SUPPORTED_VERSION,
  maxVersion: MAX_SUPPORTED_VERSION,
  internodeCompression: "none",
  unprotectedFraming: false,
  sendQueueCapacityBytes: 4 * MiB,
  sendQueueReserveEndpointCapacityBytes: 128 * MiB,
  sendQueueReserveGlobalCapacityBytes: 512 * MiB,
  receiveQueueCapacityBytes: 4 * MiB,
  receiveQueueReserveEndpointCapacityBytes: 128 * MiB,
  receiveQueueReserveGlobalCapacityBytes: 512 * MiB,
  maxMessageSizeBytes: 128 * MiB,
  applicationTimeoutMs: 30_000,
  tcpConnectTimeoutMs: 2_000,
  handshakeTimeoutMs: 30_000,
  reconnectDelayMsMin: 100,
  reconnectDelayMsMax: 1_000,
  expiryPruneIntervalMs: 100,
  idleConnectionTimeoutMs: 300_000,
  largeMessageThresholdBytes: 65_515,
  smallFramePayloadBytes: 64 * 1024,
  largeFramePayloadBytes: 32 * 1024,
  stageQueueCapacityMessages: 65_536,
  closeDrainTimeoutMs: 10_000,
};

/** A configuration that refers to impossible values. */
export class InvalidMessagingConfigError extends Error {
  override name = "InvalidMessagingConfigError";
}

/**
 * Fills defaults and checks the result.
 * @throws {InvalidMessagingConfigError} naming the first field that cannot work
 */
export function resolveMessagingConfig(overrides: Partial<MessagingConfig> = {}): MessagingConfig {
  const config: MessagingConfig = { ...DEFAULT_MESSAGING_CONFIG, ...overrides };
  const fail = (message: string): never => {
    throw new InvalidMessagingConfigError(`Cannot use messaging config: ${message}`);
  };
  for (const [key, value] of Object.entries(config)) {
    if (typeof value === "number" && (!Number.isSafeInteger(value) || value < 0)) {
      fail(`${key} must be a non-negative integer, got ${value}`);
    }
  }
  if (config.minVersion < MIN_SUPPORTED_VERSION || config.maxVersion > MAX_SUPPORTED_VERSION) {
    fail(`versions must lie within [${MIN_SUPPORTED_VERSION}, ${MAX_SUPPORTED_VERSION}]`);
  }
  if (config.minVersion > config.maxVersion) fail("minVersion is above maxVersion");
  const reserves = [
    config.sendQueueReserveEndpointCapacityBytes,
    config.sendQueueReserveGlobalCapacityBytes,
    config.receiveQueueReserveEndpointCapacityBytes,
    config.receiveQueueReserveGlobalCapacityBytes,
  ];
  if (config.maxMessageSizeBytes > Math.min(...reserves)) {
    fail(`maxMessageSizeBytes (${config.maxMessageSizeBytes}) exceeds a queue reserve`);
  }
  if (config.maxMessageSizeBytes < 1024) fail("maxMessageSizeBytes below 1024 bytes");
  if (config.smallFramePayloadBytes > 131_071 || config.largeFramePayloadBytes > 131_071) {
    fail("frame payload sizes cannot exceed 131071 bytes");
  }
  if (config.largeMessageThresholdBytes > config.smallFramePayloadBytes) {
    fail("largeMessageThresholdBytes exceeds smallFramePayloadBytes");
  }
  if (config.largeFramePayloadBytes < 1024) fail("largeFramePayloadBytes below 1024 bytes");
  if (config.reconnectDelayMsMin > config.reconnectDelayMsMax) {
    fail("reconnectDelayMsMin is above reconnectDelayMsMax");
  }
  if (config.stageQueueCapacityMessages < 1) fail("stageQueueCapacityMessages must be ≥ 1");
  if (!["none", "dc", "all"].includes(config.internodeCompression)) {
    fail(`internodeCompression must be none, dc or all, got ${config.internodeCompression}`);
  }
  return config;
}
