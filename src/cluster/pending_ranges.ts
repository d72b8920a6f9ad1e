/**
 * Pending ranges (Cassandra's `PendingRangeMaps`): while nodes join or leave, the token ranges
 * each node is about to replicate but does not yet. Writes to such a range go to its current
 * replicas and also to its pending ones, so no write is lost when the ring settles.
 *
 * The future ring is the current one without the leaving nodes and with the joining ones. Both
 * rings' replicas are constant between consecutive tokens of either ring, so the ranges cut at
 * the union of their tokens are compared one by one: a range's pending replicas are its future
 * replicas that are not current ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingRanges } from "./pending_ranges.ts";
 *
 * const node = (id: string, token: bigint) => ({ node: id, tokens: [token], dc: "dc", rack: "r" });
 * const pending = new PendingRanges({
 *   current: [node("a", 0n), node("b", 100n)],
 *   joining: [node("c", 50n)],
 *   strategy: { class: "SimpleStrategy", replicationFactor: 1 },
 * });
 * assert.deepEqual(pending.rangesOf("c"), [{ left: 0n, right: 50n }]); // taken over from b
 * assert.deepEqual(pending.pendingReplicasOf(20n), ["c"]);
 * assert.deepEqual(pending.pendingReplicasOf(70n), []);
 * ```
 *
 * @module
 */

import type { TokenRange } from "../wire/repair_payloads.ts";
import {
  InvalidRingError,
  type PlacementStrategy,
  type RingMember,
  TokenRing,
} from "./token_ring.ts";

/**
 * Whether `token` lies in `range`, `(left, right]` (wire's {@linkcode TokenRange}): it wraps past
 * the largest token when `left >= right`, and `left === right` is the whole ring.
 */
export function rangeContains(range: TokenRange, token: bigint): boolean {
  if (range.left < range.right) return token > range.left && token <= range.right;
  return token > range.left || token <= range.right;
}

/** Options of {@linkcode PendingRanges}. */
export interface PendingRangesOptions {
  /** The ring's members now, leaving ones included. */
  readonly current: readonly RingMember[];
  /** Nodes bootstrapping into the ring, with the tokens they will own; none by default. */
  readonly joining?: readonly RingMember[];
  /** Ids of ring members leaving it; none by default. */
  readonly leaving?: Iterable<string>;
  /** Where replicas go. */
  readonly strategy: PlacementStrategy;
}

/** The ranges each node will newly replicate once the joining and leaving nodes are done. */
export class PendingRanges {
  /** Each node's pending ranges, adjacent ones merged, ascending by `right`; none are empty. */
  readonly byNode: ReadonlyMap<string, readonly TokenRange[]>;
  /** The union of both rings' tokens, ascending: the ends of the ranges compared. */
  readonly #boundaries: readonly bigint[];
  /** Pending replicas of the range ending at the boundary with the same index. */
  readonly #pending: ReadonlyArray<readonly string[]>;

  /**
   * Computes the pending ranges. Throws `InvalidRingError` when a joining node is already on the
   * ring or also leaving, a leaving node is not on the ring, or either ring is invalid (such as a
   * joining token held by a member that stays).
   */
  constructor(options: PendingRangesOptions) {
    const leaving = new Set(options.leaving ?? []);
    const joining = options.joining ?? [];
    const currentNodes = new Set(options.current.map((member) => member.node));
    for (const node of leaving) {
      if (!currentNodes.has(node)) {
        throw new InvalidRingError(
          `Cannot compute pending ranges: leaving node ${node} is not on the ring`,
        );
      }
    }
    for (const member of joining) {
      if (currentNodes.has(member.node)) {
        throw new InvalidRingError(
          `Cannot compute pending ranges: joining node ${member.node} is already on the ring`,
        );
      }
    }
    const current = new TokenRing(options.current);
    const future = new TokenRing([
      ...options.current.filter((member) => !leaving.has(member.node)),
      ...joining,
    ]);
    this.#boundaries = union(current.tokens, future.tokens);
    this.#pending = this.#boundaries.map((token) => {
      if (future.tokens.length === 0) return [];
      const now = current.tokens.length === 0 ? [] : current.replicasOf(token, options.strategy);
      return future.replicasOf(token, options.strategy).filter((node) => !now.includes(node));
    });
    this.byNode = mergeByNode(this.#boundaries, this.#pending);
  }

  /** Whether no node has a pending range: nothing is joining or leaving, or it changes nothing. */
  get isEmpty(): boolean {
    return this.byNode.size === 0;
  }

  /** The ranges `node` will newly replicate; none if it has nothing pending. */
  rangesOf(node: string): readonly TokenRange[] {
    return this.byNode.get(node) ?? [];
  }

  /**
   * The nodes that are not replicas of `token` now but will be, in future replica order: writes
   * for `token` go to them as well as to its current replicas.
   */
  pendingReplicasOf(token: bigint): string[] {
    if (this.#boundaries.length === 0) return [];
    return [...this.#pending[indexOf(this.#boundaries, token)]!];
  }
}

/** Ascending union of two ascending token lists, without duplicates. */
function union(x: readonly bigint[], y: readonly bigint[]): bigint[] {
  const merged: bigint[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const next = j >= y.length || (i < x.length && x[i]! <= y[j]!) ? x[i++]! : y[j++]!;
    if (merged.at(-1) !== next) merged.push(next);
  }
  return merged;
}

/** Index of the first boundary ≥ `token`, wrapping to 0 past the largest. */
function indexOf(boundaries: readonly bigint[], token: bigint): number {
  let low = 0;
  let high = boundaries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (boundaries[mid]! < token) low = mid + 1;
    else high = mid;
  }
  return low === boundaries.length ? 0 : low;
}

/**
 * Each node's ranges `(boundary i - 1, boundary i]`, adjacent ones merged, including across the
 * wrap: a node pending everywhere gets the single whole-ring range `(b, b]`.
 */
function mergeByNode(
  boundaries: readonly bigint[],
  pending: ReadonlyArray<readonly string[]>,
): Map<string, TokenRange[]> {
  const byNode = new Map<string, TokenRange[]>();
  for (let i = 0; i < boundaries.length; i++) {
    const left = boundaries[(i - 1 + boundaries.length) % boundaries.length]!;
    const right = boundaries[i]!;
    for (const node of pending[i]!) {
      const ranges = byNode.get(node);
      if (ranges === undefined) byNode.set(node, [{ left, right }]);
      else if (ranges.at(-1)!.right === left) ranges.push({ left: ranges.pop()!.left, right });
      else ranges.push({ left, right });
    }
  }
  for (const ranges of byNode.values()) {
    // The first range starts where the last ends when both touch the wrap: join them.
    if (ranges.length > 1 && ranges[0]!.left === ranges.at(-1)!.right) {
      ranges[0] = { left: ranges.pop()!.left, right: ranges[0]!.right };
    }
  }
  return byNode;
}
