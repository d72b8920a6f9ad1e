/**
 * The token ring (DESIGN.md, Cassandra's `TokenMetadata`): which node owns each token, and the
 * replicas of a token under `SimpleStrategy` (the next `rf` distinct nodes clockwise) and
 * `NetworkTopologyStrategy` (per datacenter, preferring distinct racks). Immutable: a change of
 * membership builds a new ring.
 *
 * A node owns the range `(previous token, its token]`; the range of the smallest token wraps
 * around from the largest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TokenRing } from "./token_ring.ts";
 * const ring = new TokenRing([
 *   { node: "a", tokens: [0n], dc: "dc1", rack: "r1" },
 *   { node: "b", tokens: [100n], dc: "dc1", rack: "r1" },
 *   { node: "c", tokens: [200n], dc: "dc1", rack: "r1" },
 * ]);
 * assert.equal(ring.primaryOf(50n), "b");
 * assert.equal(ring.primaryOf(250n), "a"); // wraps around
 * assert.deepEqual(ring.replicasOf(50n, { class: "SimpleStrategy", replicationFactor: 2 }), ["b", "c"]);
 * ```
 *
 * @module
 */

/** A node's place on the ring. */
export interface RingMember {
  /** The node's id (host id or address key). */
  readonly node: string;
  /** Its tokens (vnodes). */
  readonly tokens: readonly bigint[];
  /** Its datacenter. */
  readonly dc: string;
  /** Its rack. */
  readonly rack: string;
}

/** How many copies of each token range a table keeps, and where (the ring-side form of a table's replication settings). */
export type PlacementStrategy =
  | { readonly class: "SimpleStrategy"; readonly replicationFactor: number }
  | {
    readonly class: "NetworkTopologyStrategy";
    /** Replication factor per datacenter. */
    readonly datacenters: Readonly<Record<string, number>>;
  };

/** A node does not fit on the ring (duplicate token, no tokens). */
export class InvalidRingError extends Error {
  override name = "InvalidRingError";
}

/** Sorted tokens and their owners. */
export class TokenRing {
  /** Every token, ascending. */
  readonly tokens: readonly bigint[];
  readonly #owners: readonly string[];
  readonly #members = new Map<string, RingMember>();

  constructor(members: readonly RingMember[]) {
    const entries: Array<[bigint, string]> = [];
    for (const member of members) {
      if (this.#members.has(member.node)) {
        throw new InvalidRingError(`Cannot build ring: node ${member.node} appears twice`);
      }
      if (member.tokens.length === 0) {
        throw new InvalidRingError(`Cannot build ring: node ${member.node} has no tokens`);
      }
      this.#members.set(member.node, member);
      for (const token of member.tokens) entries.push([token, member.node]);
    }
    entries.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]![0] === entries[i - 1]![0]) {
        throw new InvalidRingError(
          `Cannot build ring: token ${entries[i]![0]} is claimed by ${entries[i - 1]![1]} and ${
            entries[i]![1]
          }`,
        );
      }
    }
    this.tokens = entries.map((e) => e[0]);
    this.#owners = entries.map((e) => e[1]);
  }

  /** Nodes on the ring. */
  get nodes(): string[] {
    return [...this.#members.keys()];
  }

  /** The member record of `node`, if on the ring. */
  member(node: string): RingMember | undefined {
    return this.#members.get(node);
  }

  /** Index of the first token ≥ `token`, wrapping to 0 past the largest. */
  #indexOf(token: bigint): number {
    let low = 0;
    let high = this.tokens.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.tokens[mid]! < token) low = mid + 1;
      else high = mid;
    }
    return low === this.tokens.length ? 0 : low;
  }

  /** The node whose range holds `token`. */
  primaryOf(token: bigint): string {
    if (this.tokens.length === 0) {
      throw new InvalidRingError("Cannot look up a token: the ring is empty");
    }
    return this.#owners[this.#indexOf(token)]!;
  }

  /** The replicas of `token` under `strategy`, primary first. */
  replicasOf(token: bigint, strategy: PlacementStrategy): string[] {
    if (this.tokens.length === 0) {
      throw new InvalidRingError("Cannot look up a token: the ring is empty");
    }
    const start = this.#indexOf(token);
    return strategy.class === "SimpleStrategy"
      ? this.#simple(start, strategy.replicationFactor)
      : this.#networkTopology(start, strategy.datacenters);
  }

  #simple(start: number, replicationFactor: number): string[] {
    const replicas: string[] = [];
    const wanted = Math.min(replicationFactor, this.#members.size);
    for (let i = 0; i < this.tokens.length && replicas.length < wanted; i++) {
      const node = this.#owners[(start + i) % this.tokens.length]!;
      if (!replicas.includes(node)) replicas.push(node);
    }
    return replicas;
  }

  /**
   * Per datacenter, walk clockwise taking nodes on racks not used yet, skipping the others;
   * once every rack of the datacenter holds a replica, the skipped nodes come next, then the
   * walk takes any node, as Cassandra's NetworkTopologyStrategy does.
   */
  #networkTopology(start: number, datacenters: Readonly<Record<string, number>>): string[] {
    const racksOf = new Map<string, Set<string>>();
    const nodesOf = new Map<string, number>();
    for (const member of this.#members.values()) {
      if (!racksOf.has(member.dc)) racksOf.set(member.dc, new Set());
      racksOf.get(member.dc)!.add(member.rack);
      nodesOf.set(member.dc, (nodesOf.get(member.dc) ?? 0) + 1);
    }
    const replicas: string[] = [];
    for (const [dc, factor] of Object.entries(datacenters)) {
      const wanted = Math.min(factor, nodesOf.get(dc) ?? 0);
      const chosen: string[] = [];
      const skipped: string[] = [];
      const usedRacks = new Set<string>();
      const rackCount = racksOf.get(dc)?.size ?? 0;
      for (let i = 0; i < this.tokens.length && chosen.length < wanted; i++) {
        const node = this.#owners[(start + i) % this.tokens.length]!;
        const member = this.#members.get(node)!;
        if (member.dc !== dc || chosen.includes(node) || skipped.includes(node)) continue;
        if (usedRacks.has(member.rack) && usedRacks.size < rackCount) {
          skipped.push(node);
          continue;
        }
        chosen.push(node);
        usedRacks.add(member.rack);
        if (usedRacks.size === rackCount) {
          // Every rack holds a replica: the nodes skipped so far come next, in ring order.
          while (skipped.length > 0 && chosen.length < wanted) chosen.push(skipped.shift()!);
        }
      }
      for (const node of skipped) {
        if (chosen.length >= wanted) break;
        chosen.push(node);
      }
      replicas.push(...chosen);
    }
    return replicas;
  }

  /** The ranges `(left, right]` whose primary is `node`. */
  primaryRangesOf(node: string): Array<{ left: bigint; right: bigint }> {
    const ranges: Array<{ left: bigint; right: bigint }> = [];
    for (let i = 0; i < this.tokens.length; i++) {
      if (this.#owners[i] !== node) continue;
      const left = this.tokens[(i - 1 + this.tokens.length) % this.tokens.length]!;
      ranges.push({ left, right: this.tokens[i]! });
    }
    return ranges;
  }
}
