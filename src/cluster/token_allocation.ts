/**
 * Token allocation for a joining node (Cassandra's `num_tokens` with its token allocator), the
 * ownership each node gets from its tokens, and the gossip `TOKENS` value.
 *
 * The first node of a ring gets evenly spaced tokens from a random offset. A later node takes
 * ownership from the most loaded nodes (ring owned per token held, as Cassandra treats
 * `num_tokens` as a node's capacity) by water-filling: it finds the level that it and the nodes
 * it takes from can all end at, takes from up to `numTokens` of the most loaded nodes just what
 * brings each down to that level, and each token cuts its share off the largest primary range of
 * its donor, so it never lands on an existing token. Measured over 50 seeds growing a cluster
 * one 16-token node at a time: while there are at most 16 nodes every node owns the same share to
 * within 8 tokens of 2^64; beyond that a newcomer can cut only 16 of the ranges, and the most
 * loaded node owns at most 1.15 times what the least loaded owns (32 nodes). Random tokens, the
 * alternative, leave that ratio between 1.5 and 3.2 at 12 nodes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../random.ts";
 * import { allocateTokens, formatTokens, ownership, parseTokens } from "./token_allocation.ts";
 *
 * const random = new Random(7);
 * const place = { dc: "dc1", rack: "r1" };
 * const a = { node: "a", tokens: allocateTokens({ existing: [], random }), ...place };
 * const b = { node: "b", tokens: allocateTokens({ existing: [a], random }), ...place };
 * assert.equal(b.tokens.length, 16);
 * const owned = ownership([a, b]);
 * assert.ok(Math.abs(owned.get("a")! - 0.5) < 1e-9);
 * assert.deepEqual(parseTokens(formatTokens(b.tokens)), b.tokens);
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Random } from "../random.ts";
import { MAX_TOKEN, MIN_TOKEN } from "./murmur3.ts";
import { type RingMember, TokenRing } from "./token_ring.ts";

/** Tokens per node when not configured: Cassandra's `num_tokens` default. */
export const DEFAULT_NUM_TOKENS = 16;
/** Most tokens one node may hold, Cassandra's limit: bounds allocation and parsing. */
export const MAX_TOKENS_PER_NODE = 1536;

/** How many tokens the ring has: 2^64. */
const RING_SIZE = 1n << 64n;
/** Longest decimal token: "-9223372036854775808". */
const TOKEN_DIGITS_MAX = 20;
const TOKEN_PATTERN = /^(?:0|-?[1-9][0-9]*)$/;

/** Options of {@linkcode allocateTokens}. */
export interface AllocateTokensOptions {
  /** The ring's current members, possibly none. */
  readonly existing: readonly RingMember[];
  /** How many tokens the new node gets, in [1, {@linkcode MAX_TOKENS_PER_NODE}]; default 16. */
  readonly numTokens?: number;
  /** The source of the first node's offset and of tie-breaks, so that a seed replays. */
  readonly random: Random;
}

/** A node's share of the ring while allocating, in ring offsets (token − MIN_TOKEN). */
interface Load {
  /** How many tokens the node holds: its weight. */
  readonly weight: bigint;
  /** Tokens owned as primary. */
  owned: bigint;
  /** Primary ranges, offsets modulo 2^64. */
  readonly ranges: Range[];
}

/** A primary range `(start, start + size]` in ring offsets; cutting one moves its start. */
interface Range {
  start: bigint;
  size: bigint;
}

/**
 * Tokens for a node joining a ring of `existing` members: distinct, in [MIN_TOKEN, MAX_TOKEN],
 * none already on the ring, ascending. Throws `RangeError` for a bad `numTokens` and
 * `InvalidRingError` when `existing` is not a valid ring.
 */
export function allocateTokens(options: AllocateTokensOptions): bigint[] {
  const numTokens = options.numTokens ?? DEFAULT_NUM_TOKENS;
  if (!Number.isInteger(numTokens) || numTokens < 1 || numTokens > MAX_TOKENS_PER_NODE) {
    throw new RangeError(
      `Cannot allocate tokens: numTokens must be an integer in [1, ${MAX_TOKENS_PER_NODE}], ` +
        `got ${numTokens}`,
    );
  }
  if (options.existing.length === 0) return evenlySpaced(numTokens, options.random);
  return waterFill(loadsOf(new TokenRing(options.existing)), numTokens, options.random);
}

/** `numTokens` tokens 2^64 / numTokens apart, starting at a random offset. */
function evenlySpaced(numTokens: number, random: Random): bigint[] {
  const step = RING_SIZE / BigInt(numTokens);
  const offset = randomBelow(random, step);
  return Array.from({ length: numTokens }, (_, i) => MIN_TOKEN + offset + BigInt(i) * step);
}

/** Each node's owned tokens and primary ranges, keyed by node. */
function loadsOf(ring: TokenRing): Map<string, Load> {
  const loads = new Map<string, Load>();
  for (const node of ring.nodes) {
    loads.set(node, { weight: BigInt(ring.member(node)!.tokens.length), owned: 0n, ranges: [] });
  }
  const tokens = ring.tokens;
  for (let i = 0; i < tokens.length; i++) {
    const end = tokens[i]! - MIN_TOKEN;
    const start = tokens[(i - 1 + tokens.length) % tokens.length]! - MIN_TOKEN;
    const size = rangeSize(start, end);
    const load = loads.get(ring.primaryOf(tokens[i]!))!;
    load.owned += size;
    load.ranges.push({ start, size });
  }
  return loads;
}

/**
 * The allocator, by water-filling: find the level (ring owned per token held) at which the new
 * node and the nodes it takes from all end; take from at most `numTokens` of the most loaded
 * nodes just what brings each down to that level; spread the tokens over those donors by how
 * much each gives; cut each token's share off the start of the donor's largest range. A token
 * thus lies strictly inside a range and never meets another token.
 */
function waterFill(loads: Map<string, Load>, numTokens: number, random: Random): bigint[] {
  const weight = BigInt(numTokens);
  // Shuffled first so that the stable sort breaks ties between equal loads at random.
  let donors = random.shuffle([...loads.values()])
    .sort((x, y) => compareBigInt(y.owned * x.weight, x.owned * y.weight))
    .slice(0, numTokens);
  let level = levelOf(donors, weight);
  // A donor at or below the level would have to gain, so it leaves the set (and the level rises).
  while (donors.length > 1 && !aboveLevel(donors.at(-1)!, level)) {
    donors = donors.slice(0, -1);
    level = levelOf(donors, weight);
  }
  const gifts = donors.map((donor): Gift => {
    const amount = donor.owned - (level.owned * donor.weight) / level.weight;
    const sizes = donor.ranges.map((range) => range.size).sort((x, y) => compareBigInt(y, x));
    return { donor, amount: amount < 1n ? 1n : amount, count: 1n, sizes, reach: sizes[0]! - 1n };
  });
  // Spare tokens go one by one to the donor that needs one most (see `needier`).
  for (let spare = numTokens - gifts.length; spare > 0; spare--) {
    const gift = gifts.reduce((best, gift) => (needier(gift, best) ? gift : best));
    gift.reach += (gift.sizes[Number(gift.count)] ?? 1n) - 1n;
    gift.count++;
  }
  const tokens: bigint[] = [];
  for (const gift of gifts) {
    let left = gift.amount;
    for (let count = gift.count; count > 0n; count--) {
      const range = largestRange(gift.donor, random);
      // Invariant: a donor stays above the level, 2^64 / (tokens on the ring), so it keeps
      // ranges far wider than 2 while it gives.
      assert(range.size >= 2n, "a donor's largest range is too narrow to cut");
      const wanted = left / count;
      // At least 1 to leave the range's start, at most size - 1 to stay below its end.
      const take = wanted < 1n ? 1n : wanted > range.size - 1n ? range.size - 1n : wanted;
      range.start = (range.start + take) % RING_SIZE;
      range.size -= take;
      gift.donor.owned -= take;
      left -= take;
      tokens.push(range.start + MIN_TOKEN);
    }
  }
  return tokens.sort(compareBigInt);
}

/** What a donor gives: `amount` in `count` cuts, which together can take at most `reach`. */
interface Gift {
  readonly donor: Load;
  readonly amount: bigint;
  count: bigint;
  /** The donor's range sizes, largest first. */
  readonly sizes: readonly bigint[];
  reach: bigint;
}

/**
 * Whether `gift` needs a spare token more than `other`: first a donor whose cuts cannot reach its
 * amount yet (a cut takes less than its range), the one short by most; then the donor giving
 * most per cut, which makes cuts smaller and spreads the new node's tokens wider.
 */
function needier(gift: Gift, other: Gift): boolean {
  const short = gift.amount - gift.reach;
  const otherShort = other.amount - other.reach;
  if (short > 0n || otherShort > 0n) return short > otherShort;
  return gift.amount * other.count > other.amount * gift.count;
}

/** The common level of the new node and `donors` after the move, as a fraction. */
function levelOf(donors: readonly Load[], weight: bigint): { owned: bigint; weight: bigint } {
  let owned = 0n;
  let total = weight;
  for (const donor of donors) {
    owned += donor.owned;
    total += donor.weight;
  }
  return { owned, weight: total };
}

function aboveLevel(load: Load, level: { owned: bigint; weight: bigint }): boolean {
  return load.owned * level.weight > level.owned * load.weight;
}

/** The largest of a node's ranges, ties at random. */
function largestRange(load: Load, random: Random): Range {
  let best: Range[] = [];
  for (const range of load.ranges) {
    const size = best[0]?.size ?? 0n;
    if (range.size > size) best = [range];
    else if (range.size === size) best.push(range);
  }
  return random.pick(best);
}

function compareBigInt(x: bigint, y: bigint): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Size of `(start, end]` on the ring; equal ends mean the whole ring (one token). */
function rangeSize(start: bigint, end: bigint): bigint {
  const size = (end - start + RING_SIZE) % RING_SIZE;
  return size === 0n ? RING_SIZE : size;
}

/** A uniform bigint in [0, bound), bound in [1, 2^64]: 64 random bits with rejection. */
function randomBelow(random: Random, bound: bigint): bigint {
  const limit = RING_SIZE - (RING_SIZE % bound);
  for (;;) {
    const draw = (BigInt(random.nextUint32()) << 32n) | BigInt(random.nextUint32());
    if (draw < limit) return draw % bound;
  }
}

/**
 * How many tokens each node owns as primary, exactly: the sizes of its ranges
 * `(previous token, token]`, summing to 2^64 over all nodes.
 */
export function ownedTokens(members: readonly RingMember[]): Map<string, bigint> {
  const owned = new Map<string, bigint>();
  if (members.length === 0) return owned;
  for (const [node, load] of loadsOf(new TokenRing(members))) owned.set(node, load.owned);
  return owned;
}

/**
 * The fraction of the ring each node owns as primary, in [0, 1]; the fractions sum to 1 up to
 * floating-point rounding. Empty for an empty ring.
 */
export function ownership(members: readonly RingMember[]): Map<string, number> {
  const fractions = new Map<string, number>();
  for (const [node, owned] of ownedTokens(members)) {
    fractions.set(node, Number(owned) / Number(RING_SIZE));
  }
  return fractions;
}

/**
 * The gossip `TOKENS` value: comma-joined decimal tokens, ascending. Throws `RangeError` for no
 * tokens, too many, a token out of range or a duplicate.
 */
export function formatTokens(tokens: readonly bigint[]): string {
  checkTokens(tokens, "format");
  return tokens.toSorted(compareBigInt).join(",");
}

/**
 * Parses a gossip `TOKENS` value: comma-joined canonical decimal tokens (no spaces, signs or
 * leading zeros), in any order; returns them in that order. Throws `RangeError` on anything else,
 * on more than {@linkcode MAX_TOKENS_PER_NODE} tokens, out-of-range tokens and duplicates.
 */
export function parseTokens(value: string): bigint[] {
  // Bound the work before splitting: a peer's value could be arbitrarily long.
  const lengthMax = MAX_TOKENS_PER_NODE * (TOKEN_DIGITS_MAX + 1) - 1;
  if (value.length > lengthMax) {
    throw new RangeError(
      `Cannot parse tokens: value is ${value.length} characters, more than ${lengthMax}`,
    );
  }
  if (value === "") throw new RangeError("Cannot parse tokens: value is empty");
  const parts = value.split(",");
  const tokens = parts.map((part, i) => {
    if (part.length > TOKEN_DIGITS_MAX || !TOKEN_PATTERN.test(part)) {
      throw new RangeError(
        `Cannot parse tokens: item ${i} is not a decimal integer: ${JSON.stringify(part)}`,
      );
    }
    return BigInt(part);
  });
  checkTokens(tokens, "parse");
  return tokens;
}

function checkTokens(tokens: readonly bigint[], action: "parse" | "format"): void {
  if (tokens.length === 0) throw new RangeError(`Cannot ${action} tokens: there are none`);
  if (tokens.length > MAX_TOKENS_PER_NODE) {
    throw new RangeError(
      `Cannot ${action} tokens: ${tokens.length} tokens, more than ${MAX_TOKENS_PER_NODE}`,
    );
  }
  const seen = new Set<bigint>();
  for (const token of tokens) {
    if (token < MIN_TOKEN || token > MAX_TOKEN) {
      throw new RangeError(
        `Cannot ${action} tokens: ${token} is outside [${MIN_TOKEN}, ${MAX_TOKEN}]`,
      );
    }
    if (seen.has(token)) throw new RangeError(`Cannot ${action} tokens: ${token} appears twice`);
    seen.add(token);
  }
}
