import { deepEqual, equal, ok } from "node:assert/strict";
import { Random } from "../random.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { chooseGossipTargets } from "./gossip_targets.ts";

const at = (i: number): InetAddressAndPort => ({ host: `10.0.0.${i}`, port: 7000 });

Deno.test("chooseGossipTargets() picks one live peer, and no seed when it was a seed", () => {
  const seeds = [at(1)];
  for (let seed = 0; seed < 50; seed++) {
    const targets = chooseGossipTargets({
      live: [at(1)],
      unreachable: [],
      seeds,
      random: new Random(seed),
    });
    deepEqual(targets, [at(1)]);
  }
});

Deno.test("chooseGossipTargets() sends to nobody when alone and a seed itself", () => {
  const targets = chooseGossipTargets({
    live: [],
    unreachable: [],
    seeds: [],
    random: new Random(1),
  });
  deepEqual(targets, []);
});

Deno.test("chooseGossipTargets() adds an unreachable peer with probability unreachable/(live+1)", () => {
  const live = [at(2), at(3), at(4)];
  const unreachable = [at(9)];
  let hits = 0;
  const rounds = 20_000;
  const random = new Random(7);
  for (let i = 0; i < rounds; i++) {
    const targets = chooseGossipTargets({
      live,
      unreachable,
      seeds: [],
      random,
    });
    if (targets.some((t) => t.host === "10.0.0.9")) hits++;
  }
  const expected = unreachable.length / (live.length + 1); // 0.25
  ok(Math.abs(hits / rounds - expected) < 0.015, `${hits / rounds} vs ${expected}`);
});

Deno.test("chooseGossipTargets() asks a seed with probability seeds/(live+unreachable)", () => {
  const seeds = [at(1), at(2)];
  const live = [at(3), at(4), at(5), at(6), at(7), at(8), at(9), at(10)]; // no seed among them
  let seedHits = 0;
  const rounds = 20_000;
  const random = new Random(3);
  for (let i = 0; i < rounds; i++) {
    const targets = chooseGossipTargets({
      live,
      unreachable: [],
      seeds,
      random,
    });
    equal(targets[0] !== undefined && live.includes(targets[0]), true);
    if (targets.length > 1) seedHits++;
  }
  ok(Math.abs(seedHits / rounds - 2 / 8) < 0.015, `${seedHits / rounds}`);
});
