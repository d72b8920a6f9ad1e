import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { InvalidRingError, type RingMember, TokenRing } from "./token_ring.ts";
import { MAX_TOKEN, MIN_TOKEN } from "./murmur3.ts";

const member = (node: string, tokens: bigint[], dc = "dc1", rack = "r1"): RingMember => ({
  node,
  tokens,
  dc,
  rack,
});

Deno.test("primaryOf() finds the owner of (previous token, token], wrapping around", () => {
  const ring = new TokenRing([member("a", [0n]), member("b", [100n]), member("c", [200n])]);
  equal(ring.primaryOf(0n), "a");
  equal(ring.primaryOf(1n), "b");
  equal(ring.primaryOf(100n), "b");
  equal(ring.primaryOf(101n), "c");
  equal(ring.primaryOf(201n), "a");
  equal(ring.primaryOf(MIN_TOKEN), "a");
  equal(ring.primaryOf(MAX_TOKEN), "a");
});

Deno.test("SimpleStrategy takes the next distinct nodes clockwise, vnodes included", () => {
  const ring = new TokenRing([
    member("a", [0n, 300n]),
    member("b", [100n, 310n]),
    member("c", [200n]),
  ]);
  const simple = (rf: number) => ({ class: "SimpleStrategy" as const, replicationFactor: rf });
  deepEqual(ring.replicasOf(250n, simple(3)), ["a", "b", "c"]);
  deepEqual(ring.replicasOf(305n, simple(2)), ["b", "a"]);
  deepEqual(ring.replicasOf(50n, simple(5)), ["b", "c", "a"], "at most every node once");
});

Deno.test("NetworkTopologyStrategy places replicas per datacenter on distinct racks first", () => {
  const ring = new TokenRing([
    member("a1", [0n], "dc1", "r1"),
    member("a2", [10n], "dc1", "r1"),
    member("a3", [20n], "dc1", "r2"),
    member("a4", [30n], "dc1", "r3"),
    member("b1", [5n], "dc2", "r1"),
    member("b2", [15n], "dc2", "r1"),
  ]);
  const nts = { class: "NetworkTopologyStrategy" as const, datacenters: { dc1: 3, dc2: 2 } };
  // From token 1: dc1 walk meets a2 (r1), a3 (r2), a4 (r3); dc2 meets b1 (5), then b2 (15).
  deepEqual(ring.replicasOf(1n, nts), ["a2", "a3", "a4", "b1", "b2"]);
  // From token 31: a1 (r1), a2 skipped (r1 used), a3 (r2), a4 (r3).
  deepEqual(ring.replicasOf(31n, { ...nts, datacenters: { dc1: 3 } }), ["a1", "a3", "a4"]);
  // Four replicas on three racks: the skipped same-rack node fills the fourth place.
  deepEqual(ring.replicasOf(31n, { ...nts, datacenters: { dc1: 4 } }), ["a1", "a3", "a4", "a2"]);
  deepEqual(ring.replicasOf(31n, { ...nts, datacenters: { dc3: 2 } }), [], "unknown dc: none");
});

Deno.test("primary ranges of all nodes cover the ring exactly once", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.bigInt({ min: MIN_TOKEN + 1n, max: MAX_TOKEN }), {
        minLength: 1,
        maxLength: 60,
      }),
      (tokens) => {
        const members = [0, 1, 2, 3].map((n) =>
          member(`n${n}`, tokens.filter((_, i) => i % 4 === n))
        ).filter((m) => m.tokens.length > 0);
        const ring = new TokenRing(members);
        const ranges = members.flatMap((m) => ring.primaryRangesOf(m.node));
        equal(ranges.length, tokens.length);
        const rights = ranges.map((r) => r.right).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        deepEqual(rights, [...ring.tokens]);
        for (const range of ranges) equal(ring.primaryOf(range.right), ring.primaryOf(range.right));
      },
    ),
  );
});

Deno.test("a ring refuses duplicate tokens, duplicate nodes and nodes without tokens", () => {
  throws(() => new TokenRing([member("a", [1n]), member("b", [1n])]), InvalidRingError);
  throws(() => new TokenRing([member("a", [1n]), member("a", [2n])]), InvalidRingError);
  throws(() => new TokenRing([member("a", [])]), InvalidRingError);
  throws(() => new TokenRing([]).primaryOf(0n), InvalidRingError);
});
