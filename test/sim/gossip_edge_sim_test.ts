import assert from "node:assert/strict";
import { MemoryGenerationStore } from "../../src/cluster/generation_store.ts";
import { Gossiper } from "../../src/cluster/gossiper.ts";
import { UnableToGossipError } from "../../src/cluster/shadow_round.ts";
import { MessagingService } from "../../src/net/messaging_service.ts";
import { Random } from "../../src/random.ts";
import { createVerbRegistry } from "../../src/wire/verbs.ts";
import { ApplicationState } from "../../src/wire/gossip_payloads.ts";
import { simTest } from "./_sim_test.ts";

simTest(
  "a non-seed that reaches no seed fails its shadow round after twice the ring delay",
  { nodes: 2, seedCount: 1, gossip: { ringDelayMs: 3000 } },
  async (sim) => {
    const startedAtMs = sim.nowMs;
    await assert.rejects(sim.start(1), UnableToGossipError);
    const tookMs = sim.nowMs - startedAtMs;
    assert.ok(tookMs >= 6000 && tookMs < 6100, `gave up after ${tookMs} ms`);
    sim.nodes[1]!.die();
  },
);

simTest(
  "a lone seed starts at once; the other seeds' shadow rounds end when any seed answers",
  { nodes: 3, seedCount: 3 },
  async (sim) => {
    // Seeds list each other: each waits for another seed to answer (even one in its own shadow
    // round), so starting them one after another must not take a ring delay each.
    const startedAtMs = sim.nowMs;
    await sim.start(0); // the others are down: gives up quietly after the ring delay (a seed)
    assert.ok(sim.nowMs - startedAtMs >= 30_000);
    const secondAtMs = sim.nowMs;
    await sim.start(1);
    assert.ok(sim.nowMs - secondAtMs < 1000, "the second seed waited for a ring delay");
    await sim.start(2);
    assert.ok(await sim.runUntil(() => sim.converged(), 20_000) !== undefined);
  },
);

simTest("a node of another cluster is ignored", { nodes: 3 }, async (sim) => {
  await sim.startAll();
  assert.ok(await sim.runUntil(() => sim.converged(), 20_000) !== undefined);
  // A stranger configured with another cluster name, seeded with our seeds.
  const host = "10.9.9.9";
  const transport = sim.network.transport(host);
  const messaging = new MessagingService({
    localAddress: { host, port: 7000 },
    transport,
    clock: sim.clock,
    verbs: createVerbRegistry(),
  });
  await messaging.start();
  const stranger = new Gossiper({
    messaging,
    transport,
    clock: sim.clock,
    random: new Random(5),
    generationStore: new MemoryGenerationStore(),
    config: { clusterName: "someone else", seeds: sim.seeds, shadowRound: false },
  });
  await stranger.start();
  await sim.run(20_000);
  for (const node of sim.nodes) {
    assert.equal(node.gossiper.endpoint({ host, port: 7000 }), undefined);
    assert.ok(node.gossiper.endpoints().length === 3);
  }
  const mismatched = sim.nodes.reduce((n, node) => n + node.gossiper.metrics.mismatchedSyns, 0);
  assert.ok(mismatched > 0, "no SYN of the stranger was counted as mismatched");
  assert.equal(stranger.endpoints().length, 1, "the stranger learned about our cluster");
  await stranger.close();
  sim.network.crash(host);
});

simTest(
  "version-11 and version-12 nodes gossip with each other (a rolling upgrade)",
  { nodes: 6, messagingFor: (index) => (index >= 3 ? { maxVersion: 11 } : {}) },
  async (sim) => {
    await sim.startAll();
    const tookMs = await sim.runUntil(() => sim.converged(), 30_000);
    assert.ok(tookMs !== undefined, "mixed-version nodes did not converge");
    const ack2s = sim.nodes.reduce((n, node) => n + node.gossiper.metrics.ack2sReceived, 0);
    assert.ok(ack2s > 0, "no state moved in ACK2s");
    sim.crash(4);
    await sim.run(3000);
    for (const node of sim.nodes) {
      if (node.index !== 4) assert.equal(sim.sees(node.index, 4), false);
    }
  },
);

simTest("a node that left stays LEFT when it stops", { nodes: 5 }, async (sim) => {
  await sim.startAll();
  assert.ok(await sim.runUntil(() => sim.converged(), 30_000) !== undefined);
  const expireAt = sim.clock.nowMs() + 3_600_000;
  sim.nodes[4]!.gossiper.setLocalState(ApplicationState.STATUS_WITH_PORT, `LEFT,4,${expireAt}`);
  const leftEverywhere = () =>
    sim.nodes.slice(0, 4).every((node) =>
      node.gossiper.endpoint(sim.nodes[4]!.address)?.status?.kind === "LEFT"
    );
  assert.ok(await sim.runUntil(leftEverywhere, 20_000) !== undefined);
  await sim.stop(4);
  await sim.run(20_000);
  assert.ok(leftEverywhere(), "the stop overwrote LEFT");
  for (const node of sim.nodes.slice(0, 4)) {
    assert.ok(
      node.events.some((e) => e.event.type === "left" && e.event.key === sim.nodes[4]!.key),
    );
  }
});

simTest("healthy peers are rarely probed, even at 60 nodes", { nodes: 60 }, async (sim) => {
  await sim.startAll();
  assert.ok(await sim.runUntil(() => sim.converged(), 60_000, 500) !== undefined);
  await sim.run(10_000);
  const before = sim.nodes.reduce((n, node) => n + node.gossiper.metrics.probesSent, 0);
  await sim.run(30_000);
  const after = sim.nodes.reduce((n, node) => n + node.gossiper.metrics.probesSent, 0);
  const perNodePerSecond = (after - before) / 60 / 30;
  assert.ok(perNodePerSecond < 2, `${perNodePerSecond.toFixed(2)} probes per node per second`);
  assert.ok(sim.converged());
});

simTest("closing messaging does not wait for a crashed peer's queue", { nodes: 4 }, async (sim) => {
  await sim.startAll();
  assert.ok(await sim.runUntil(() => sim.converged(), 30_000) !== undefined);
  sim.crash(3);
  await sim.run(30_000); // SYNs to the unreachable peer pile up in its queue
  const node = sim.nodes[0]!;
  await node.gossiper.close();
  let closed = false;
  const closing = node.messaging.close().then(() => (closed = true));
  const tookMs = await sim.runUntil(() => closed, 60_000, 100);
  await closing;
  assert.ok(tookMs !== undefined && tookMs < 3000, `close took ${tookMs} ms`);
  node.die();
});
