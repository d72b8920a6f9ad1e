/**
 * What a node tells the cluster about itself through gossip (PROTOCOL.md §10): its lifecycle
 * status, host id, tokens, datacenter and rack, schema version, load, release and messaging
 * versions, and where its HTTP API listens, each as the application state Cassandra uses, and
 * the typed reading of those states on the receiving side. Readers never throw on a peer's
 * values: what does not parse is left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { announcementStates, readAnnouncement } from "./node_announcement.ts";
 * import { ApplicationState } from "../wire/gossip_payloads.ts";
 * const states = announcementStates({
 *   hostId: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", dc: "dc1", rack: "rack1",
 *   tokens: [-5n, 42n], status: { kind: "NORMAL", token: -5n }, releaseVersion: "0.4.0",
 *   messagingVersion: 12, nativeAddress: { host: "10.0.0.1", port: 8080 },
 * });
 * assert.equal(states.get(ApplicationState.TOKENS), "-5,42");
 * const seen = readAnnouncement(new Map([...states].map(([k, v]) => [k, { value: v, version: 1 }])));
 * assert.deepEqual(seen.tokens, [-5n, 42n]);
 * assert.equal(seen.messagingVersion, 12);
 * ```
 *
 * @module
 */

import { ApplicationState, type VersionedValue } from "../wire/gossip_payloads.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import { formatStatus, type GossipStatus, parseStatus } from "./gossip_status.ts";
import { formatTokens, parseTokens } from "./token_allocation.ts";

/** A node's self-description. */
export interface NodeAnnouncement {
  /** Its host id (a UUID, stable across restarts and address changes). */
  readonly hostId: string;
  /** Datacenter and rack (from the snitch's configuration). */
  readonly dc: string;
  /** Rack. */
  readonly rack: string;
  /** Its tokens (empty before it has any). */
  readonly tokens: readonly bigint[];
  /** Lifecycle status. */
  readonly status: GossipStatus;
  /** The highest messaging version it speaks (NET_VERSION). */
  readonly messagingVersion: number;
  /** Its release (RELEASE_VERSION). */
  readonly releaseVersion: string;
  /** Its HTTP API (NATIVE_ADDRESS_AND_PORT). */
  readonly nativeAddress?: InetAddressAndPort;
  /** Its schema version (a UUID), once it has a schema. */
  readonly schemaVersion?: string;
  /** Bytes of data it holds (LOAD). */
  readonly loadBytes?: number;
  /** How busy it is, 0 = idle (SEVERITY). */
  readonly severity?: number;
}

/** The application states announcing `node`, by ordinal. */
export function announcementStates(node: NodeAnnouncement): Map<number, string> {
  const states = new Map<number, string>([
    [ApplicationState.HOST_ID, node.hostId],
    [ApplicationState.DC, node.dc],
    [ApplicationState.RACK, node.rack],
    [ApplicationState.NET_VERSION, String(node.messagingVersion)],
    [ApplicationState.RELEASE_VERSION, node.releaseVersion],
    [ApplicationState.STATUS_WITH_PORT, formatStatus(node.status)],
  ]);
  if (node.tokens.length > 0) states.set(ApplicationState.TOKENS, formatTokens(node.tokens));
  if (node.nativeAddress !== undefined) {
    states.set(ApplicationState.NATIVE_ADDRESS_AND_PORT, formatInetAddress(node.nativeAddress));
  }
  if (node.schemaVersion !== undefined) states.set(ApplicationState.SCHEMA, node.schemaVersion);
  if (node.loadBytes !== undefined) states.set(ApplicationState.LOAD, String(node.loadBytes));
  if (node.severity !== undefined) states.set(ApplicationState.SEVERITY, String(node.severity));
  return states;
}

/** A peer's self-description as far as its states parse. */
export interface AnnouncementView {
  /** Host id. */
  readonly hostId?: string;
  /** Datacenter. */
  readonly dc?: string;
  /** Rack. */
  readonly rack?: string;
  /** Tokens (absent when missing or malformed). */
  readonly tokens?: bigint[];
  /** Status. */
  readonly status?: GossipStatus;
  /** Highest messaging version. */
  readonly messagingVersion?: number;
  /** Release. */
  readonly releaseVersion?: string;
  /** HTTP API address, `host:port` as announced. */
  readonly nativeAddress?: string;
  /** Schema version. */
  readonly schemaVersion?: string;
  /** Load in bytes. */
  readonly loadBytes?: number;
  /** Severity. */
  readonly severity?: number;
}

/** Reads a peer's announcement from its application states; malformed values are left out. */
export function readAnnouncement(states: ReadonlyMap<number, VersionedValue>): AnnouncementView {
  const text = (ordinal: number) => states.get(ordinal)?.value;
  const number = (ordinal: number) => {
    const value = text(ordinal);
    const parsed = value === undefined || value.trim() === "" ? NaN : Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  };
  const tokensText = text(ApplicationState.TOKENS);
  let tokens: bigint[] | undefined;
  try {
    tokens = tokensText === undefined ? undefined : parseTokens(tokensText);
  } catch {
    tokens = undefined; // a peer's garbage: left out, never thrown
  }
  const statusText = text(ApplicationState.STATUS_WITH_PORT);
  const version = number(ApplicationState.NET_VERSION);
  const view: Record<string, unknown> = {
    hostId: text(ApplicationState.HOST_ID),
    dc: text(ApplicationState.DC),
    rack: text(ApplicationState.RACK),
    tokens,
    status: statusText === undefined ? undefined : parseStatus(statusText),
    messagingVersion: version !== undefined && Number.isSafeInteger(version) ? version : undefined,
    releaseVersion: text(ApplicationState.RELEASE_VERSION),
    nativeAddress: text(ApplicationState.NATIVE_ADDRESS_AND_PORT),
    schemaVersion: text(ApplicationState.SCHEMA),
    loadBytes: number(ApplicationState.LOAD),
    severity: number(ApplicationState.SEVERITY),
  };
  for (const key of Object.keys(view)) if (view[key] === undefined) delete view[key];
  return view as AnnouncementView;
}
