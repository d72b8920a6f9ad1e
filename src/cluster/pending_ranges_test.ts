import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { MAX_TOKEN, MIN_TOKEN } from "./murmur3.ts";
import type { TokenRange } from "../wire/repair_payloads.ts";
import { PendingRanges, rangeContains } from "./pending_ranges.ts";
import {
  InvalidRingError,
  type PlacementStrategy,
  type RingMember,
  TokenRing,
} from "./token_ring.ts";

const member = (node: string, tokens: bigint[], dc = "dc1", rack = "r1"): RingMember => ({
  node,
  tokens,
  dc,
  rack,
});

const simple = (replicationFactor: number): PlacementStrategy => ({
  class: "SimpleStrategy",
  replicationFactor,
});

Deno.test("rangeContains() treats (left, right] as wrapping when left >= right", () => {
  ok(rangeContains({ left: 0n, right: 10n }, 10n));
  ok(!rangeContains({ left: 0n, right: 10n }, 0n));
  ok(rangeContains({ left: 10n, right: 0n }, MAX_TOKEN));
  ok(rangeContains({ left: 10n, right: 0n }, MIN_TOKEN));
  ok(!rangeContains({ left: 10n, right: 0n }, 5n));
  for (const token of [MIN_TOKEN, 5n, MAX_TOKEN]) ok(rangeContains({ left: 5n, right: 5n }, token));
});

Deno.test("a node joining a 3-node RF=3 ring is pending for the ranges it will replicate", () => {
  const pending = new PendingRanges({
    current: [member("a", [0n]), member("b", [100n]), member("c", [200n])],
    joining: [member("d", [50n])],
    strategy: simple(3),
  });
  // Every current node replicates everything; d will be among the next three nodes clockwise
  // from every token except those in (50, 100], where b, c, a follow.
  deepEqual([...pending.byNode.keys()], ["d"]);
  deepEqual(pending.rangesOf("d"), [{ left: 100n, right: 50n }]);
  deepEqual(pending.pendingReplicasOf(150n), ["d"]);
  deepEqual(pending.pendingReplicasOf(MAX_TOKEN), ["d"]);
  deepEqual(pending.pendingReplicasOf(50n), ["d"]);
  deepEqual(pending.pendingReplicasOf(51n), []);
  deepEqual(pending.pendingReplicasOf(100n), []);
  deepEqual(pending.rangesOf("a"), []);
});

Deno.test("a leaving node's ranges become pending on the nodes that take them over", () => {
  const current = [
    member("a", [0n]),
    member("b", [100n]),
    member("c", [200n]),
    member("d", [300n]),
  ];
  const rf1 = new PendingRanges({ current, leaving: ["d"], strategy: simple(1) });
  deepEqual(rf1.byNode, new Map([["a", [{ left: 200n, right: 300n }]]]));
  // RF=2: d replicates (100, 200] with c and (200, 300] with a. Once d is gone, a is c's partner
  // on (100, 200], and b is a's partner on (200, 300].
  const rf2 = new PendingRanges({ current, leaving: new Set(["d"]), strategy: simple(2) });
  deepEqual(
    rf2.byNode,
    new Map([["a", [{ left: 100n, right: 200n }]], ["b", [{ left: 200n, right: 300n }]]]),
  );
  deepEqual(rf2.pendingReplicasOf(250n), ["b"]);
  deepEqual(rf2.pendingReplicasOf(150n), ["a"]);
  deepEqual(rf2.pendingReplicasOf(50n), []);
});

Deno.test("nothing is pending when nothing joins or leaves, or the change moves no replica", () => {
  const current = [member("a", [0n]), member("b", [100n])];
  const unchanged = new PendingRanges({ current, strategy: simple(2) });
  ok(unchanged.isEmpty);
  deepEqual(unchanged.pendingReplicasOf(42n), []);
  // A node joins a datacenter where the strategy places no replicas.
  const otherDc = new PendingRanges({
    current,
    joining: [member("x", [50n], "dc2")],
    strategy: { class: "NetworkTopologyStrategy", datacenters: { dc1: 2 } },
  });
  ok(otherDc.isEmpty);
  ok(new PendingRanges({ current: [], strategy: simple(3) }).isEmpty);
  deepEqual(new PendingRanges({ current: [], strategy: simple(3) }).pendingReplicasOf(0n), []);
  ok(new PendingRanges({ current, leaving: ["a", "b"], strategy: simple(1) }).isEmpty);
});

Deno.test("the first nodes of an empty ring are pending for everything", () => {
  const pending = new PendingRanges({
    current: [],
    joining: [member("a", [0n]), member("b", [100n])],
    strategy: simple(1),
  });
  deepEqual(
    pending.byNode,
    new Map([["a", [{ left: 100n, right: 0n }]], ["b", [{ left: 0n, right: 100n }]]]),
  );
});

Deno.test("NetworkTopologyStrategy: pending ranges follow datacenters and racks", () => {
  const current = [
    member("a1", [0n], "dc1", "r1"),
    member("a2", [100n], "dc1", "r2"),
    member("a3", [200n], "dc1", "r1"),
    member("b1", [50n], "dc2", "r1"),
    member("b2", [150n], "dc2", "r1"),
  ];
  const pending = new PendingRanges({
    current,
    joining: [member("b3", [250n], "dc2", "r2")],
    leaving: ["a2"],
    strategy: { class: "NetworkTopologyStrategy", datacenters: { dc1: 2, dc2: 2 } },
  });
  // dc2: b3 brings a second rack, so it becomes a replica of every token.
  deepEqual(pending.rangesOf("b3"), [{ left: 250n, right: 250n }]);
  // dc1: without a2 (the only r2 node), a1 and a3 hold every token; each gains what a2 held
  // with the other: a1 (0, 200] (a2 + a3 and a3 + a2), a3 (200, 0] (a1 + a2).
  deepEqual(pending.rangesOf("a1"), [{ left: 0n, right: 200n }]);
  deepEqual(pending.rangesOf("a3"), [{ left: 200n, right: 0n }]);
  deepEqual(pending.pendingReplicasOf(10n), ["a1", "b3"]);
  deepEqual(pending.pendingReplicasOf(220n), ["a3", "b3"]);
  deepEqual(pending.rangesOf("b1"), []);
});

Deno.test("PendingRanges refuses joining members on the ring, unknown leavers and clashes", () => {
  const current = [member("a", [0n]), member("b", [100n])];
  const strategy = simple(1);
  throws(
    () => new PendingRanges({ current, joining: [member("a", [5n])], strategy }),
    InvalidRingError,
  );
  throws(() => new PendingRanges({ current, leaving: ["z"], strategy }), InvalidRingError);
  throws(
    () => new PendingRanges({ current, joining: [member("c", [100n])], strategy }),
    InvalidRingError,
  );
  // The token of a leaving node may go to a joining one (a replacement).
  const replaced = new PendingRanges({
    current,
    joining: [member("c", [100n])],
    leaving: ["b"],
    strategy,
  });
  deepEqual(replaced.byNode, new Map([["c", [{ left: 0n, right: 100n }]]]));
});

/** A random cluster change: current members, leaving ids, joining members, a strategy. */
const changeArbitrary = fc
  .record({
    tokens: fc.uniqueArray(fc.bigInt({ min: MIN_TOKEN, max: MAX_TOKEN }), {
      minLength: 2,
      maxLength: 60,
    }),
    nodes: fc.integer({ min: 1, max: 8 }),
    joiningNodes: fc.integer({ min: 0, max: 3 }),
    places: fc.array(fc.tuple(fc.constantFrom("dc1", "dc2"), fc.constantFrom("r1", "r2", "r3")), {
      minLength: 11,
      maxLength: 11,
    }),
    leavingMask: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    strategy: fc.oneof(
      fc.integer({ min: 1, max: 4 }).map(simple),
      fc.record({ dc1: fc.integer({ min: 0, max: 3 }), dc2: fc.integer({ min: 0, max: 3 }) })
        .map((datacenters): PlacementStrategy => ({
          class: "NetworkTopologyStrategy",
          datacenters,
        })),
    ),
  })
  .map(({ tokens, nodes, joiningNodes, places, leavingMask, strategy }) => {
    // Deal the tokens round-robin to current then joining nodes; drop any left without one.
    const total = nodes + joiningNodes;
    const members = Array.from({ length: total }, (_, n) => {
      const [dc, rack] = places[n]!;
      return member(`n${n}`, tokens.filter((_, i) => i % total === n), dc, rack);
    }).filter((m) => m.tokens.length > 0);
    const current = members.filter((_, n) => n < nodes);
    const joining = members.filter((_, n) => n >= nodes);
    const leaving = current.filter((_, n) => leavingMask[n]).map((m) => m.node);
    return { current, joining, leaving, strategy, probes: tokens };
  });

Deno.test("pendingReplicasOf() is future replicas minus current replicas, for random rings", () => {
  fc.assert(
    fc.property(
      changeArbitrary,
      fc.array(fc.bigInt({ min: MIN_TOKEN, max: MAX_TOKEN }), { maxLength: 20 }),
      ({ current, joining, leaving, strategy, probes }, extra) => {
        const pending = new PendingRanges({ current, joining, leaving, strategy });
        const now = new TokenRing(current);
        const future = new TokenRing([
          ...current.filter((m) => !leaving.includes(m.node)),
          ...joining,
        ]);
        // Ring tokens and their neighbours are where ranges change; random tokens fill between.
        const tokens = [...probes.flatMap((t) => [t - 1n, t, t + 1n]), ...extra]
          .filter((t) => t >= MIN_TOKEN && t <= MAX_TOKEN);
        for (const token of tokens) {
          const was = now.tokens.length === 0 ? [] : now.replicasOf(token, strategy);
          const will = future.tokens.length === 0 ? [] : future.replicasOf(token, strategy);
          const expected = will.filter((node) => !was.includes(node));
          deepEqual(pending.pendingReplicasOf(token), expected, `token ${token}`);
          for (const m of [...current, ...joining]) {
            const covered = pending.rangesOf(m.node).some((r) => rangeContains(r, token));
            equal(covered, expected.includes(m.node), `${m.node} at ${token}`);
          }
        }
        for (const ranges of pending.byNode.values()) assertMerged(ranges);
      },
    ),
  );
});

/** Non-empty, ascending by right, and no range ends where another starts (they would merge). */
function assertMerged(ranges: readonly TokenRange[]): void {
  ok(ranges.length > 0);
  for (let i = 1; i < ranges.length; i++) ok(ranges[i - 1]!.right < ranges[i]!.right);
  const lefts = new Set(ranges.map((r) => r.left));
  for (const range of ranges) ok(ranges.length === 1 || !lefts.has(range.right));
}
