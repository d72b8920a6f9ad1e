import { deepEqual, equal, notDeepEqual, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { Random, SEED_MAX } from "../random.ts";
import { MAX_TOKEN, MIN_TOKEN } from "./murmur3.ts";
import {
  allocateTokens,
  DEFAULT_NUM_TOKENS,
  formatTokens,
  MAX_TOKENS_PER_NODE,
  ownedTokens,
  ownership,
  parseTokens,
} from "./token_allocation.ts";
import { InvalidRingError, type RingMember, TokenRing } from "./token_ring.ts";

const RING_SIZE = 1n << 64n;

const member = (node: string, tokens: readonly bigint[]): RingMember => ({
  node,
  tokens,
  dc: "dc1",
  rack: "r1",
});

/** Most owned over least owned: 1 is perfect balance. */
function ownershipRatio(members: readonly RingMember[]): number {
  const owned = [...ownedTokens(members).values()];
  const max = owned.reduce((x, y) => (x > y ? x : y));
  const min = owned.reduce((x, y) => (x < y ? x : y));
  return Number(max) / Number(min);
}

/** Adds `nodes` nodes one at a time; returns the members and the ratio after each join. */
function grow(
  nodes: number,
  allocate: (existing: readonly RingMember[]) => bigint[],
): { members: RingMember[]; ratios: number[] } {
  const members: RingMember[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < nodes; i++) {
    members.push(member(`n${i}`, allocate(members)));
    ratios.push(ownershipRatio(members));
  }
  return { members, ratios };
}

function randomToken(random: Random): bigint {
  return MIN_TOKEN + ((BigInt(random.nextUint32()) << 32n) | BigInt(random.nextUint32()));
}

Deno.test("allocateTokens() spaces the first node's tokens evenly from a random offset", () => {
  const tokens = allocateTokens({ existing: [], random: new Random(1) });
  equal(tokens.length, DEFAULT_NUM_TOKENS);
  for (let i = 1; i < tokens.length; i++) equal(tokens[i]! - tokens[i - 1]!, RING_SIZE / 16n);
  ok(tokens[0]! >= MIN_TOKEN && tokens[0]! < MIN_TOKEN + RING_SIZE / 16n);
  notDeepEqual(allocateTokens({ existing: [], random: new Random(2) }), tokens);
  deepEqual(ownership([member("a", tokens)]), new Map([["a", 1]]));
});

Deno.test("allocateTokens() keeps ownership balanced as a cluster grows from 1 to 12 nodes", () => {
  // Measured over seeds 0..49: after every join, most owned − least owned ≤ 7 tokens of 2^64,
  // a ratio of 1 to double precision. The bound below leaves margin for rounding only.
  for (let seed = 0; seed < 5; seed++) {
    const random = new Random(seed);
    const { ratios } = grow(12, (existing) => allocateTokens({ existing, random }));
    for (const [i, ratio] of ratios.entries()) {
      ok(ratio <= 1.000001, `seed ${seed}, ${i + 1} nodes: ratio ${ratio}`);
    }
  }
});

Deno.test("random tokens, the alternative, leave a 12-node cluster far less balanced", () => {
  // Measured over seeds 0..49 at 12 nodes: ratios from 1.50 to 3.14.
  for (let seed = 0; seed < 5; seed++) {
    const random = new Random(seed);
    const { ratios } = grow(12, () => Array.from({ length: 16 }, () => randomToken(random)));
    ok(ratios.at(-1)! > 1.25, `seed ${seed}: random ratio ${ratios.at(-1)}`);
  }
});

Deno.test("allocateTokens() stays balanced past 16 nodes, where a newcomer cannot cut all", () => {
  // 17 nodes cannot all give to 16 tokens: measured over seeds 0..49, worst 1.145 (20 nodes).
  const random = new Random(11);
  const { members, ratios } = grow(32, (existing) => allocateTokens({ existing, random }));
  for (const [i, ratio] of ratios.entries()) ok(ratio <= 1.2, `${i + 1} nodes: ratio ${ratio}`);
  const all = members.flatMap((m) => m.tokens);
  equal(new Set(all).size, all.length, "no token is allocated twice");
  equal(new TokenRing(members).tokens.length, 32 * 16);
});

Deno.test("allocateTokens() replays the same tokens from the same seed", () => {
  const run = (seed: number) => {
    const random = new Random(seed);
    return grow(6, (existing) => allocateTokens({ existing, random })).members;
  };
  deepEqual(run(99), run(99));
  notDeepEqual(run(99), run(100));
});

Deno.test("allocateTokens() gives a node ownership in proportion to its token count", () => {
  const random = new Random(3);
  const { members } = grow(3, (existing) => allocateTokens({ existing, random }));
  members.push(member("big", allocateTokens({ existing: members, numTokens: 32, random })));
  const owned = ownership(members);
  ok(Math.abs(owned.get("big")! - 0.4) < 1e-9, `big owns ${owned.get("big")}`);
  for (const node of ["n0", "n1", "n2"]) ok(Math.abs(owned.get(node)! - 0.2) < 1e-9);
});

Deno.test("allocateTokens() takes from the most loaded nodes of an unbalanced ring", () => {
  // a owns (300, 2^64 - ...] around to 0: nearly all of the ring.
  const existing = [member("a", [0n]), member("b", [100n]), member("c", [300n])];
  const tokens = allocateTokens({ existing, numTokens: 1, random: new Random(5) });
  const after = ownedTokens([...existing, member("d", tokens)]);
  equal(after.get("b"), 100n);
  equal(after.get("c"), 200n);
  equal(after.get("d"), (RING_SIZE - 300n) / 2n);
});

Deno.test("allocateTokens() accepts 1 to 1536 tokens and refuses anything else", () => {
  const random = new Random(8);
  const first = member("a", allocateTokens({ existing: [], numTokens: 1, random }));
  equal(first.tokens.length, 1);
  equal(allocateTokens({ existing: [first], numTokens: MAX_TOKENS_PER_NODE, random }).length, 1536);
  for (const numTokens of [0, -1, 1537, 1.5, Number.NaN]) {
    throws(
      () => allocateTokens({ existing: [first], numTokens, random }),
      (error: unknown) =>
        error instanceof RangeError && error.message.startsWith("Cannot allocate tokens:"),
      `numTokens ${numTokens}`,
    );
  }
  throws(
    () => allocateTokens({ existing: [member("a", [1n]), member("b", [1n])], random }),
    InvalidRingError,
  );
});

Deno.test("allocateTokens() never reuses a token, makes a node gain or overshoots", () => {
  const ringArbitrary = fc.uniqueArray(fc.bigInt({ min: MIN_TOKEN, max: MAX_TOKEN }), {
    minLength: 1,
    maxLength: 80,
  }).chain((tokens) =>
    fc.integer({ min: 1, max: Math.min(8, tokens.length) }).map((nodes) =>
      Array.from({ length: nodes }, (_, n) => tokens.filter((_, i) => i % nodes === n))
        .map((nodeTokens, n) => member(`n${n}`, nodeTokens))
    )
  );
  fc.assert(
    fc.property(
      ringArbitrary,
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 0, max: SEED_MAX }),
      (existing, numTokens, seed) => {
        const tokens = allocateTokens({ existing, numTokens, random: new Random(seed) });
        deepEqual(allocateTokens({ existing, numTokens, random: new Random(seed) }), tokens);
        equal(tokens.length, numTokens);
        for (const token of tokens) ok(token >= MIN_TOKEN && token <= MAX_TOKEN);
        const before = ownedTokens(existing);
        const members = [...existing, member("new", tokens)];
        const after = ownedTokens(members); // throws on a duplicate token
        for (const [node, owned] of before) ok(after.get(node)! <= owned, `${node} gained`);
        // The newcomer owns no more per token than the most loaded node did before it joined.
        const perToken = (m: RingMember, owned: bigint) => Number(owned) / m.tokens.length;
        const maxBefore = Math.max(...existing.map((m) => perToken(m, before.get(m.node)!)));
        ok(perToken(members.at(-1)!, after.get("new")!) <= maxBefore * (1 + 1e-12));
      },
    ),
  );
});

Deno.test("ownership() measures (previous token, token] exactly, wrap-around included", () => {
  equal(ownership([]).size, 0);
  deepEqual(ownedTokens([member("a", [MAX_TOKEN])]), new Map([["a", RING_SIZE]]));
  const members = [member("a", [MIN_TOKEN, 0n]), member("b", [100n]), member("c", [MAX_TOKEN])];
  const owned = ownedTokens(members);
  equal(owned.get("a"), 1n + (1n << 63n)); // (MAX, MIN] is one token, (MIN, 0] is 2^63
  equal(owned.get("b"), 100n);
  equal(owned.get("c"), MAX_TOKEN - 100n);
  equal([...owned.values()].reduce((x, y) => x + y), RING_SIZE);
  const fractions = ownership(members);
  ok(Math.abs([...fractions.values()].reduce((x, y) => x + y) - 1) < 1e-12);
  ok(Math.abs(fractions.get("a")! - 0.5) < 1e-12);
});

Deno.test("formatTokens() and parseTokens() round-trip the gossip TOKENS value", () => {
  equal(formatTokens([5n, MIN_TOKEN, MAX_TOKEN, 0n]), `${MIN_TOKEN},0,5,${MAX_TOKEN}`);
  deepEqual(parseTokens("5,-3,0"), [5n, -3n, 0n]);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.bigInt({ min: MIN_TOKEN, max: MAX_TOKEN }), {
        minLength: 1,
        maxLength: 40,
      }),
      (tokens) => {
        const value = formatTokens(tokens);
        deepEqual(parseTokens(value), tokens.toSorted((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
        equal(formatTokens(parseTokens(value)), value);
      },
    ),
  );
  const most = Array.from({ length: MAX_TOKENS_PER_NODE }, (_, i) => MIN_TOKEN + BigInt(i));
  equal(parseTokens(formatTokens(most)).length, MAX_TOKENS_PER_NODE);
});

Deno.test("parseTokens() refuses garbage, out-of-range tokens, duplicates and too many", () => {
  const bad = [
    "",
    ",",
    "1,",
    "1,,2",
    " 1",
    "1 ",
    "+1",
    "01",
    "-0",
    "1.5",
    "1e3",
    "0x10",
    "abc",
    "9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1,2,1",
    Array.from({ length: MAX_TOKENS_PER_NODE + 1 }, (_, i) => i).join(","),
    "1".repeat(40_000),
  ];
  for (const value of bad) {
    throws(
      () => parseTokens(value),
      (error: unknown) =>
        error instanceof RangeError && error.message.startsWith("Cannot parse tokens:"),
      JSON.stringify(value.slice(0, 40)),
    );
  }
});

Deno.test("formatTokens() refuses no tokens, duplicates, out-of-range tokens and too many", () => {
  const bad = [
    [],
    [1n, 1n],
    [MAX_TOKEN + 1n],
    [MIN_TOKEN - 1n],
    Array.from({ length: MAX_TOKENS_PER_NODE + 1 }, (_, i) => BigInt(i)),
  ];
  for (const tokens of bad) {
    throws(
      () => formatTokens(tokens),
      (error: unknown) =>
        error instanceof RangeError && error.message.startsWith("Cannot format tokens:"),
    );
  }
});
