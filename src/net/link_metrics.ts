/**
 * The `internode_inbound` and `internode_outbound` metrics (PROTOCOL.md §9): counters kept per
 * peer, read as rows whose columns are exactly the protocol's names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { INTERNODE_INBOUND_COLUMNS, InboundMetrics } from "./link_metrics.ts";
 * const metrics = new InboundMetrics();
 * metrics.receivedCount++;
 * assert.equal(metrics.toRow().received_count, 1);
 * assert.deepEqual(Object.keys(metrics.toRow()), [...INTERNODE_INBOUND_COLUMNS]);
 * ```
 *
 * @module
 */

/** Columns of `internode_inbound`, in protocol order. */
export const INTERNODE_INBOUND_COLUMNS = [
  "using_bytes",
  "using_reserve_bytes",
  "corrupt_frames_recovered",
  "corrupt_frames_unrecovered",
  "error_bytes",
  "error_count",
  "expired_bytes",
  "expired_count",
  "scheduled_bytes",
  "scheduled_count",
  "processed_bytes",
  "processed_count",
  "received_bytes",
  "received_count",
  "throttled_count",
  "throttled_nanos",
] as const;

/** Columns of `internode_outbound`, in protocol order. */
export const INTERNODE_OUTBOUND_COLUMNS = [
  "using_bytes",
  "using_reserve_bytes",
  "pending_count",
  "pending_bytes",
  "sent_count",
  "sent_bytes",
  "expired_count",
  "expired_bytes",
  "error_count",
  "error_bytes",
  "overload_count",
  "overload_bytes",
  "active_connections",
  "connection_attempts",
  "successful_connection_attempts",
] as const;

/** One `internode_inbound` row's values. */
export type InboundRow = Record<typeof INTERNODE_INBOUND_COLUMNS[number], number>;
/** One `internode_outbound` row's values. */
export type OutboundRow = Record<typeof INTERNODE_OUTBOUND_COLUMNS[number], number>;

/** Inbound counters of one peer (summed over its inbound connections). */
export class InboundMetrics {
  /** Bytes of received messages holding capacity (queued or being processed). */
  usingBytes = 0;
  /** Of those, bytes taken from the endpoint reserve. */
  usingReserveBytes = 0;
  /** Frames skipped for a bad payload CRC, connection kept. */
  corruptFramesRecovered = 0;
  /** Frames that broke the connection (bad header CRC, bad first frame of a large message). */
  corruptFramesUnrecovered = 0;
  /** Messages that failed: unknown verb, bad payload, handler error, malformed, oversized. */
  errorCount = 0;
  /** Bytes of those. */
  errorBytes = 0;
  /** Messages dropped because they had expired (on arrival or while queued). */
  expiredCount = 0;
  /** Bytes of those. */
  expiredBytes = 0;
  /** Messages handed to a stage. */
  scheduledCount = 0;
  /** Bytes of those. */
  scheduledBytes = 0;
  /** Messages whose handler finished. */
  processedCount = 0;
  /** Bytes of those. */
  processedBytes = 0;
  /** Messages received (whole, header read). */
  receivedCount = 0;
  /** Bytes of those. */
  receivedBytes = 0;
  /** Times a connection stopped reading for lack of capacity. */
  throttledCount = 0;
  /** Total time connections spent stopped, in ns. */
  throttledNanos = 0;

  /** Adds `other` into this (to sum connections). */
  add(other: InboundMetrics): void {
    for (const key of Object.keys(this) as Array<keyof InboundMetrics>) {
      const value = other[key];
      if (typeof value === "number") (this[key] as number) += value;
    }
  }

  /** The protocol row. */
  toRow(): InboundRow {
    return {
      using_bytes: this.usingBytes,
      using_reserve_bytes: this.usingReserveBytes,
      corrupt_frames_recovered: this.corruptFramesRecovered,
      corrupt_frames_unrecovered: this.corruptFramesUnrecovered,
      error_bytes: this.errorBytes,
      error_count: this.errorCount,
      expired_bytes: this.expiredBytes,
      expired_count: this.expiredCount,
      scheduled_bytes: this.scheduledBytes,
      scheduled_count: this.scheduledCount,
      processed_bytes: this.processedBytes,
      processed_count: this.processedCount,
      received_bytes: this.receivedBytes,
      received_count: this.receivedCount,
      throttled_count: this.throttledCount,
      throttled_nanos: this.throttledNanos,
    };
  }
}

/** Outbound counters of one link; a peer's row sums its three links. */
export class OutboundMetrics {
  /** Messages queued, not yet written. */
  pendingCount = 0;
  /** Bytes of those (also `using_bytes`). */
  pendingBytes = 0;
  /** Of the pending bytes, those borrowed from the endpoint reserve. */
  usingReserveBytes = 0;
  /** Messages written to the connection. */
  sentCount = 0;
  /** Bytes of those. */
  sentBytes = 0;
  /** Messages dropped because they expired before being sent. */
  expiredCount = 0;
  /** Bytes of those. */
  expiredBytes = 0;
  /** Messages that failed: serialization error, connection lost with them in flight. */
  errorCount = 0;
  /** Bytes of those. */
  errorBytes = 0;
  /** Messages refused because the link and both reserves were full. */
  overloadCount = 0;
  /** Bytes of those. */
  overloadBytes = 0;
  /** Connections currently established (0 or 1 per link). */
  activeConnections = 0;
  /** Connect attempts made. */
  connectionAttempts = 0;
  /** Connect attempts that completed the handshake. */
  successfulConnectionAttempts = 0;

  /** Adds `other` into this (to sum a peer's links). */
  add(other: OutboundMetrics): void {
    for (const key of Object.keys(this) as Array<keyof OutboundMetrics>) {
      const value = other[key];
      if (typeof value === "number") (this[key] as number) += value;
    }
  }

  /** The protocol row. */
  toRow(): OutboundRow {
    return {
      using_bytes: this.pendingBytes,
      using_reserve_bytes: this.usingReserveBytes,
      pending_count: this.pendingCount,
      pending_bytes: this.pendingBytes,
      sent_count: this.sentCount,
      sent_bytes: this.sentBytes,
      expired_count: this.expiredCount,
      expired_bytes: this.expiredBytes,
      error_count: this.errorCount,
      error_bytes: this.errorBytes,
      overload_count: this.overloadCount,
      overload_bytes: this.overloadBytes,
      active_connections: this.activeConnections,
      connection_attempts: this.connectionAttempts,
      successful_connection_attempts: this.successfulConnectionAttempts,
    };
  }
}
