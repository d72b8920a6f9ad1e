/**
 * What one node knows of an endpoint (PROTOCOL.md §10): its heartbeat (generation, version) and
 * its application states, each with the version it was set at, plus local bookkeeping (alive,
 * when it last changed). Versions come from one {@link VersionGenerator} per process, shared by
 * the heartbeat and every application state, so one number, the max version, orders all of an
 * endpoint's changes within a generation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EndpointStateRecord, VersionGenerator } from "./endpoint_state.ts";
 * import { ApplicationState } from "../wire/gossip_payloads.ts";
 * const versions = new VersionGenerator();
 * const record = new EndpointStateRecord(1_700_000_000, versions.next());
 * record.set(ApplicationState.DC, { value: "dc1", version: versions.next() });
 * assert.equal(record.maxVersion, 2);
 * assert.equal(record.newerThan(1)?.applicationStates.get(ApplicationState.DC)?.value, "dc1");
 * assert.equal(record.newerThan(2), undefined);
 * ```
 *
 * @module
 */

import {
  ApplicationState,
  type EndpointState,
  type VersionedValue,
} from "../wire/gossip_payloads.ts";
import { type GossipStatus, parseStatus } from "./gossip_status.ts";

/** Largest version a heartbeat can carry: a shut-down node's is forced to it. */
export const HIGHEST_VERSION = 0x7fff_ffff;

/** Cassandra's `VersionGenerator`: one strictly increasing counter per process. */
export class VersionGenerator {
  #last = 0;

  /** The next version. */
  next(): number {
    if (this.#last >= HIGHEST_VERSION - 1) {
      throw new RangeError("Cannot generate a gossip version: the 31-bit counter is exhausted");
    }
    return ++this.#last;
  }
}

/** Mutable gossip state of one endpoint, with the local view of it. */
export class EndpointStateRecord {
  /** Generation: the endpoint's start time in seconds (or stored + 1). */
  generation: number;
  /** Heartbeat version. */
  heartbeatVersion: number;
  /** Whether this node considers the endpoint alive (set after an ECHO round trip). */
  alive = false;
  /** Monotonic ms when this record last changed or was marked down (for expiry and views). */
  updatedAtMs = 0;
  readonly #states = new Map<number, VersionedValue>();
  #maxStateVersion = -1;
  #status: GossipStatus | undefined;

  /** A record with a heartbeat and no application states. */
  constructor(generation: number, heartbeatVersion: number) {
    this.generation = generation;
    this.heartbeatVersion = heartbeatVersion;
  }

  /** A record holding exactly the wire `state`. */
  static fromWire(state: EndpointState): EndpointStateRecord {
    const record = new EndpointStateRecord(state.heartbeat.generation, state.heartbeat.version);
    for (const [ordinal, value] of state.applicationStates) record.set(ordinal, value);
    return record;
  }

  /** The application states by ordinal. */
  get states(): ReadonlyMap<number, VersionedValue> {
    return this.#states;
  }

  /** Highest version among the heartbeat and the application states. */
  get maxVersion(): number {
    return Math.max(this.heartbeatVersion, this.#maxStateVersion);
  }

  /** The parsed `STATUS_WITH_PORT`, if the endpoint announced one. */
  get status(): GossipStatus | undefined {
    return this.#status;
  }

  /** The value of application state `ordinal`, if set. */
  value(ordinal: number): string | undefined {
    return this.#states.get(ordinal)?.value;
  }

  /** Sets one application state (the caller checked that `value` is newer). */
  set(ordinal: number, value: VersionedValue): void {
    this.#states.set(ordinal, value);
    if (value.version > this.#maxStateVersion) this.#maxStateVersion = value.version;
    if (ordinal === ApplicationState.STATUS_WITH_PORT) this.#status = parseStatus(value.value);
  }

  /**
   * The wire state carrying everything with a version above `version` (the heartbeat always
   * rides along), or `undefined` when nothing is newer: Cassandra's
   * `getStateForVersionBiggerThan`.
   */
  newerThan(version: number): EndpointState | undefined {
    let states: Map<number, VersionedValue> | undefined;
    for (const [ordinal, value] of this.#states) {
      if (value.version > version) (states ??= new Map()).set(ordinal, value);
    }
    if (states === undefined && this.heartbeatVersion <= version) return undefined;
    return {
      heartbeat: { generation: this.generation, version: this.heartbeatVersion },
      applicationStates: states ?? new Map(),
    };
  }
}
