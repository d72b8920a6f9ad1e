/**
 * The `STATUS_WITH_PORT` application state (PROTOCOL.md §10): a node's lifecycle, as Cassandra
 * writes it: comma-joined parts, the kind first (`BOOT,<token>`, `NORMAL,<token>`,
 * `LEAVING,<token>`, `LEFT,<token>,<expireAtMs>`, `shutdown,true`, `removed,<hostId>,<expireAtMs>`).
 *
 * A node in a *dead state* (`LEFT`, `removed`, `shutdown`) is not pinged back to life by gossip:
 * only a new generation (a restart) can revive it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatStatus, isDeadStatus, parseStatus } from "./gossip_status.ts";
 * const value = formatStatus({ kind: "LEFT", token: 42n, expireAtMs: 1_700_000_000_000 });
 * assert.equal(value, "LEFT,42,1700000000000");
 * assert.deepEqual(parseStatus(value), { kind: "LEFT", token: 42n, expireAtMs: 1_700_000_000_000 });
 * assert.equal(isDeadStatus(parseStatus("shutdown,true")), true);
 * ```
 *
 * @module
 */

/** A node's lifecycle state as gossiped in `STATUS_WITH_PORT`. */
export type GossipStatus =
  | { readonly kind: "BOOT"; readonly token: bigint }
  | { readonly kind: "NORMAL"; readonly token: bigint }
  | { readonly kind: "LEAVING"; readonly token: bigint }
  | { readonly kind: "LEFT"; readonly token: bigint; readonly expireAtMs: number }
  | { readonly kind: "shutdown" }
  | { readonly kind: "removed"; readonly hostId: string; readonly expireAtMs: number }
  /** A status this node does not understand (a newer release's); kept, never acted on. */
  | { readonly kind: "unknown"; readonly value: string };

/** The kind of a {@link GossipStatus}. */
export type GossipStatusKind = GossipStatus["kind"];

const MIN_TOKEN = -(1n << 63n);
const MAX_TOKEN = (1n << 63n) - 1n;
const DECIMAL = /^-?\d{1,20}$/;

/** The `STATUS_WITH_PORT` value of `status`. */
export function formatStatus(status: GossipStatus): string {
  switch (status.kind) {
    case "BOOT":
    case "NORMAL":
    case "LEAVING":
      return `${status.kind},${status.token}`;
    case "LEFT":
      return `LEFT,${status.token},${status.expireAtMs}`;
    case "shutdown":
      return "shutdown,true";
    case "removed":
      return `removed,${status.hostId},${status.expireAtMs}`;
    case "unknown":
      return status.value;
  }
}

/**
 * Parses a `STATUS_WITH_PORT` value. Values that are not well formed come back as `unknown`
 * (gossip from a newer release must not break an older node), never as an exception.
 */
export function parseStatus(value: string): GossipStatus {
  const parts = value.split(",");
  const kind = parts[0];
  switch (kind) {
    case "BOOT":
    case "NORMAL":
    case "LEAVING": {
      const token = parseToken(parts[1]);
      return token === undefined ? { kind: "unknown", value } : { kind, token };
    }
    case "LEFT": {
      const token = parseToken(parts[1]);
      const expireAtMs = parseMs(parts[2]);
      return token === undefined || expireAtMs === undefined
        ? { kind: "unknown", value }
        : { kind, token, expireAtMs };
    }
    case "shutdown":
      return { kind };
    case "removed": {
      const expireAtMs = parseMs(parts[2]);
      const hostId = parts[1];
      return hostId === undefined || hostId === "" || expireAtMs === undefined
        ? { kind: "unknown", value }
        : { kind, hostId, expireAtMs };
    }
    default:
      return { kind: "unknown", value };
  }
}

/** Whether `status` is a dead state: the node is gone and gossip alone does not revive it. */
export function isDeadStatus(status: GossipStatus | undefined): boolean {
  return status !== undefined &&
    (status.kind === "LEFT" || status.kind === "removed" || status.kind === "shutdown");
}

/** Whether `status` says the node has left the ring for good (decommissioned or removed). */
export function isLeftStatus(status: GossipStatus | undefined): boolean {
  return status !== undefined && (status.kind === "LEFT" || status.kind === "removed");
}

function parseToken(text: string | undefined): bigint | undefined {
  if (text === undefined || !DECIMAL.test(text)) return undefined;
  const token = BigInt(text);
  return token < MIN_TOKEN || token > MAX_TOKEN ? undefined : token;
}

function parseMs(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return undefined;
  const ms = Number(text);
  return Number.isSafeInteger(ms) ? ms : undefined;
}
