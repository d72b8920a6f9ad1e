import assert from "node:assert/strict";
import { formatStatus, type GossipStatus } from "../../src/cluster/gossip_status.ts";
import type { PendingRanges } from "../../src/cluster/pending_ranges.ts";
import { RingTracker } from "../../src/cluster/ring_tracker.ts";
import { allocateTokens, formatTokens } from "../../src/cluster/token_allocation.ts";
import type { PlacementStrategy, TokenRing } from "../../src/cluster/token_ring.ts";
import { Random } from "../../src/random.ts";
import { ApplicationState } from "../../src/wire/gossip_payloads.ts";
import { simTest } from "./_sim_test.ts";
import type { ClusterSim } from "./cluster_sim.ts";

const RF3: PlacementStrategy = { class: "SimpleStrategy", replicationFactor: 3 };
const NTS: PlacementStrategy = { class: "NetworkTopologyStrategy", datacenters: { dc1: 2 } };
const WAIT_MS_MAX = 30_000;

/** A tracker on node `index`, placed as the simulator places it. */
function trackerOf(sim: ClusterSim, index: number): RingTracker {
  return new RingTracker({
    source: sim.nodes[index]!.gossiper,
    datacenter: "dc1",
    rack: `rack${(index % 3) + 1}`,
  });
}

/** Node `index` gossips its tokens, then a status carrying the first of them. */
function announce(
  sim: ClusterSim,
  index: number,
  tokens: readonly bigint[],
  status: GossipStatus,
): void {
  const gossiper = sim.nodes[index]!.gossiper;
  gossiper.setLocalState(ApplicationState.TOKENS, formatTokens(tokens));
  gossiper.setLocalState(ApplicationState.STATUS_WITH_PORT, formatStatus(status));
}

/** Node `index` allocates tokens over the ring it sees. */
function allocate(trackers: readonly RingTracker[], index: number, random: Random): bigint[] {
  return allocateTokens({ existing: trackers[index]!.ringMembers(), random });
}

function describeRing(ring: TokenRing): string {
  return ring.tokens.map((token) => `${token}:${ring.primaryOf(token)}`).join(" ");
}

function describePending(pending: PendingRanges): string {
  return [...pending.byNode].sort(([x], [y]) => x < y ? -1 : 1)
    .map(([node, ranges]) => `${node}=${ranges.map((r) => `(${r.left},${r.right}]`).join("")}`)
    .join(" ");
}

/** Whether every tracker describes the same thing. */
function agree(
  trackers: readonly RingTracker[],
  describe: (tracker: RingTracker) => string,
): boolean {
  const first = describe(trackers[0]!);
  return trackers.every((tracker) => describe(tracker) === first);
}

async function waitFor(sim: ClusterSim, done: () => boolean, what: string): Promise<void> {
  const tookMs = await sim.runUntil(done, WAIT_MS_MAX, 100);
  assert.ok(tookMs !== undefined, `timed out after ${WAIT_MS_MAX} ms waiting until ${what}`);
}

function ownershipRatio(tracker: RingTracker): number {
  const shares = tracker.members().map((member) => member.ownership);
  return Math.max(...shares) / Math.min(...shares);
}

simTest(
  "every node's ring tracker agrees on the ring, a bootstrap and a decommission",
  { nodes: 7 },
  async (sim) => {
    const random = new Random(sim.random.nextUint32());
    for (let i = 0; i < 6; i++) await sim.start(i);
    await waitFor(sim, () => sim.converged(), "6 nodes converge");
    const trackers = [0, 1, 2, 3, 4, 5].map((i) => trackerOf(sim, i));

    // Nodes join one by one, each allocating over the ring it sees (STATUS `NORMAL,<index>`
    // from the simulator carries no TOKENS, so it is not on the ring until it announces them).
    for (let i = 0; i < 6; i++) {
      await waitFor(sim, () => trackers[i]!.ringMembers().length === i, `node ${i} sees ${i}`);
      const tokens = allocate(trackers, i, random);
      announce(sim, i, tokens, { kind: "NORMAL", token: tokens[0]! });
    }
    const ringOf = (tracker: RingTracker) => describeRing(tracker.ring());
    await waitFor(
      sim,
      () => agree(trackers, ringOf) && trackers[0]!.ring().nodes.length === 6,
      "every node sees the 6-node ring",
    );
    for (let i = 0; i < 1000; i++) {
      const token = BigInt.asIntN(
        64,
        (BigInt(random.nextUint32()) << 32n) | BigInt(random.nextUint32()),
      );
      const owners = new Set(trackers.map((tracker) => tracker.ring().primaryOf(token)));
      assert.equal(owners.size, 1, `token ${token} has owners ${[...owners]}`);
    }
    for (const tracker of trackers) {
      assert.equal(tracker.ring().tokens.length, 6 * 16);
      assert.ok(ownershipRatio(tracker) <= 1.25, `ownership ratio ${ownershipRatio(tracker)}`);
      assert.equal(tracker.tokenConflicts + tracker.invalidTokenStates, 0);
      assert.ok(tracker.pendingRanges(RF3).isEmpty);
    }

    // A 7th node bootstraps: every node sees the same pending ranges, then the same ring.
    await sim.start(6);
    trackers.push(trackerOf(sim, 6));
    await waitFor(sim, () => sim.converged(), "the 7th node converges");
    await waitFor(sim, () => trackers[6]!.ringMembers().length === 6, "node 6 sees the ring");
    const joiningTokens = allocate(trackers, 6, random);
    announce(sim, 6, joiningTokens, { kind: "BOOT", token: joiningTokens[0]! });
    const joiner = sim.nodes[6]!.key;
    const pendingOf = (strategy: PlacementStrategy) => (tracker: RingTracker) =>
      describePending(tracker.pendingRanges(strategy));
    await waitFor(
      sim,
      () =>
        trackers.every((tracker) => tracker.pendingRanges(RF3).rangesOf(joiner).length > 0) &&
        agree(trackers, pendingOf(RF3)) && agree(trackers, pendingOf(NTS)),
      "every node sees the same pending ranges of the joining node",
    );
    for (const tracker of trackers) {
      assert.equal(tracker.ring().member(joiner), undefined);
      assert.equal(tracker.members().find((m) => m.key === joiner)?.state, "joining");
    }
    announce(sim, 6, joiningTokens, { kind: "NORMAL", token: joiningTokens[0]! });
    await waitFor(
      sim,
      () =>
        trackers.every((tracker) =>
          tracker.pendingRanges(RF3).isEmpty && tracker.ring().member(joiner) !== undefined
        ) && agree(trackers, ringOf),
      "every node sees the joined node on the ring",
    );
    for (const tracker of trackers) {
      assert.ok(ownershipRatio(tracker) <= 1.25, `ownership ratio ${ownershipRatio(tracker)}`);
    }

    // Node 4 decommissions: LEAVING makes its ranges pending everywhere, LEFT removes it.
    const leaver = sim.nodes[4]!.key;
    const leavingTokens = trackers[4]!.ring().member(leaver)!.tokens;
    announce(sim, 4, leavingTokens, { kind: "LEAVING", token: leavingTokens[0]! });
    await waitFor(
      sim,
      () =>
        trackers.every((tracker) =>
          !tracker.pendingRanges(RF3).isEmpty &&
          tracker.members().find((m) => m.key === leaver)?.state === "leaving"
        ) && agree(trackers, pendingOf(RF3)) && agree(trackers, pendingOf(NTS)),
      "every node sees the same pending ranges of the leaving node",
    );
    assert.equal(trackers[0]!.pendingRanges(RF3).rangesOf(leaver).length, 0);
    const expireAtMs = sim.nodes[4]!.clock.nowMs() + 3 * 86_400_000;
    announce(sim, 4, leavingTokens, { kind: "LEFT", token: leavingTokens[0]!, expireAtMs });
    const gone = () =>
      trackers.every((tracker) =>
        tracker.ring().member(leaver) === undefined && tracker.pendingRanges(RF3).isEmpty
      ) && agree(trackers, ringOf);
    await waitFor(sim, gone, "every node removes the node that left");
    // It then shuts down, as a decommissioned node does: that must not put it back.
    await sim.stop(4);
    await sim.run(5_000);
    const others = trackers.filter((_, i) => i !== 4);
    for (const tracker of others) {
      assert.equal(tracker.ring().nodes.length, 6);
      assert.equal(tracker.ring().member(leaver), undefined);
    }
    assert.ok(agree(others, ringOf));
    for (const tracker of trackers) tracker.close();
  },
);
