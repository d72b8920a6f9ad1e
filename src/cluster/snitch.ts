/**
 * The snitch (Cassandra's `GossipingPropertyFileSnitch`): where a node sits, datacenter and rack.
 * The local node's place comes from its configuration; a peer's from the `DC` and `RACK` states
 * it gossips, read through a lookup the caller supplies. A peer not heard from yet, or one that
 * gossips an invalid name, is placed in Cassandra's defaults, `dc1` and `rack1`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GossipingSnitch } from "./snitch.ts";
 *
 * const states = new Map([
 *   ["10.0.0.2", { dc: "eu", rack: "a" }],
 *   ["10.0.0.3", { dc: "eu", rack: "b" }],
 *   ["10.0.0.4", { dc: "us", rack: "a" }],
 * ]);
 * const lookup = (key: string) => states.get(key);
 * const snitch = new GossipingSnitch({ datacenter: "eu", rack: "a", lookup });
 * assert.equal(snitch.datacenterOf("10.0.0.4"), "us");
 * assert.equal(snitch.rackOf("10.0.0.9"), "rack1"); // unknown: the default
 * assert.deepEqual(
 *   snitch.sortByProximity(["10.0.0.4", "10.0.0.3", "10.0.0.2"]),
 *   ["10.0.0.2", "10.0.0.3", "10.0.0.4"], // same rack, same datacenter, the rest
 * );
 * ```
 *
 * @module
 */

/** Datacenter of a node whose datacenter is not known: Cassandra's default. */
export const DEFAULT_DATACENTER = "dc1";
/** Rack of a node whose rack is not known: Cassandra's default. */
export const DEFAULT_RACK = "rack1";
/** Longest datacenter or rack name. */
export const LOCATION_NAME_LENGTH_MAX = 64;

const LOCATION_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;

/** Where nodes are: the local node's datacenter and rack, and any node's by its key. */
export interface Snitch {
  /** The local node's datacenter. */
  readonly localDatacenter: string;
  /** The local node's rack. */
  readonly localRack: string;
  /** The datacenter of the node with key `nodeKey`. */
  datacenterOf(nodeKey: string): string;
  /** The rack of the node with key `nodeKey`, within its datacenter. */
  rackOf(nodeKey: string): string;
}

/** A node's place as gossiped, either part possibly unknown. */
export interface GossipedLocation {
  /** The `DC` application state. */
  readonly dc?: string;
  /** The `RACK` application state. */
  readonly rack?: string;
}

/** Options of {@linkcode GossipingSnitch}. */
export interface GossipingSnitchOptions {
  /** The local datacenter from configuration; default `dc1`. */
  readonly datacenter?: string;
  /** The local rack from configuration; default `rack1`. */
  readonly rack?: string;
  /** The local node's key: it is placed from configuration, not from the lookup. */
  readonly localNodeKey?: string;
  /** A peer's gossiped place, or `undefined` when nothing is known of it yet. */
  readonly lookup: (nodeKey: string) => GossipedLocation | undefined;
}

/** Whether `name` is a valid datacenter or rack name: 1 to 64 of `[A-Za-z0-9_.-]`. */
export function isValidLocationName(name: string): boolean {
  return name.length <= LOCATION_NAME_LENGTH_MAX && LOCATION_NAME_PATTERN.test(name);
}

/** A snitch fed by gossip, falling back to the defaults for unknown or invalid places. */
export class GossipingSnitch implements Snitch {
  readonly localDatacenter: string;
  readonly localRack: string;
  readonly #localNodeKey: string | undefined;
  readonly #lookup: (nodeKey: string) => GossipedLocation | undefined;
  #invalidNameCount = 0;

  /** Throws `RangeError` when the configured datacenter or rack is not a valid name. */
  constructor(options: GossipingSnitchOptions) {
    this.localDatacenter = checkedName("datacenter", options.datacenter ?? DEFAULT_DATACENTER);
    this.localRack = checkedName("rack", options.rack ?? DEFAULT_RACK);
    this.#localNodeKey = options.localNodeKey;
    this.#lookup = options.lookup;
  }

  /**
   * How many times a peer's gossiped datacenter or rack was invalid and the default was used
   * instead: a peer's bad state must not crash the node, and must not pass unnoticed either.
   */
  get invalidNameCount(): number {
    return this.#invalidNameCount;
  }

  /** The datacenter of `nodeKey`: gossiped, else `dc1`. */
  datacenterOf(nodeKey: string): string {
    if (nodeKey === this.#localNodeKey) return this.localDatacenter;
    return this.#valid(this.#lookup(nodeKey)?.dc, DEFAULT_DATACENTER);
  }

  /** The rack of `nodeKey`: gossiped, else `rack1`. */
  rackOf(nodeKey: string): string {
    if (nodeKey === this.#localNodeKey) return this.localRack;
    return this.#valid(this.#lookup(nodeKey)?.rack, DEFAULT_RACK);
  }

  /** Orders `a` before `b` when it is closer: same rack, then same datacenter, then the rest. */
  compareByProximity(a: string, b: string): number {
    return distanceOf(this, a) - distanceOf(this, b);
  }

  /** {@linkcode sortByProximity} with this snitch. */
  sortByProximity(nodeKeys: readonly string[]): string[] {
    return sortByProximity(this, nodeKeys);
  }

  #valid(name: string | undefined, fallback: string): string {
    if (name === undefined) return fallback;
    if (isValidLocationName(name)) return name;
    this.#invalidNameCount++;
    return fallback;
  }
}

/**
 * A copy of `nodeKeys` closest first: nodes in the local rack (of the local datacenter), then the
 * rest of the local datacenter, then other datacenters. Stable: ties keep their order.
 */
export function sortByProximity(snitch: Snitch, nodeKeys: readonly string[]): string[] {
  // Look each node up once, not once per comparison.
  return nodeKeys
    .map((key) => ({ key, distance: distanceOf(snitch, key) }))
    .sort((x, y) => x.distance - y.distance)
    .map((entry) => entry.key);
}

/** 0 in the local rack, 1 elsewhere in the local datacenter, 2 in another datacenter. */
function distanceOf(snitch: Snitch, nodeKey: string): number {
  if (snitch.datacenterOf(nodeKey) !== snitch.localDatacenter) return 2;
  return snitch.rackOf(nodeKey) === snitch.localRack ? 0 : 1;
}

function checkedName(kind: "datacenter" | "rack", name: string): string {
  if (!isValidLocationName(name)) {
    throw new RangeError(
      `Cannot create snitch: ${kind} must be 1 to ${LOCATION_NAME_LENGTH_MAX} characters of ` +
        `[A-Za-z0-9_.-], got ${JSON.stringify(name)}`,
    );
  }
  return name;
}
