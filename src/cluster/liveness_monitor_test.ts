import { deepEqual, equal } from "node:assert/strict";
import { FailureDetector } from "./failure_detector.ts";
import { type GossipConfig, resolveGossipConfig } from "./gossip_config.ts";
import { GossipMetrics } from "./gossip_events.ts";
import { LivenessMonitor, type MonitoredPeer } from "./liveness_monitor.ts";
import type { ProbeOutcome } from "./liveness_prober.ts";

function harness(config: Partial<GossipConfig> = {}, outcome: ProbeOutcome = "accepted") {
  let nowMs = 0;
  const probed: string[] = [];
  const convicted: string[] = [];
  const detector = new FailureDetector();
  const peers = new Map<string, MonitoredPeer>([
    ["10.0.0.1:7000", { address: { host: "10.0.0.1", port: 7000 }, record: { alive: true } }],
    ["10.0.0.2:7000", { address: { host: "10.0.0.2", port: 7000 }, record: { alive: true } }],
  ]);
  const monitor = new LivenessMonitor({
    config: resolveGossipConfig(config),
    detector,
    metrics: new GossipMetrics(),
    probe: (address) => {
      probed.push(address.host);
      return Promise.resolve(outcome);
    },
    monotonicMs: () => nowMs,
    peers: () => peers,
    isLocal: (key) => key === "10.0.0.1:7000",
    onConvict: (key) => convicted.push(key),
    onError: (error) => {
      throw error;
    },
  });
  detector.report("10.0.0.2:7000", 0);
  for (let t = 1000; t <= 10_000; t += 1000) detector.report("10.0.0.2:7000", t);
  nowMs = 10_000;
  return {
    monitor,
    probed,
    convicted,
    at: (ms: number) => (nowMs = ms),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("LivenessMonitor probes a silent peer only once phi reaches livenessProbePhi", async () => {
  const h = harness();
  h.at(12_000); // 2 s of silence: phi ≈ 0.8, under 2
  h.monitor.tick();
  await settle();
  deepEqual(h.probed, []);
  h.at(16_000); // 6 s at a mean of 1.09 s (the 2 s seed interval counts): phi ≈ 2.4
  h.monitor.tick();
  await settle();
  deepEqual(h.probed, ["10.0.0.2"], "the local node is never probed");
  h.at(16_250);
  h.monitor.tick(); // within the window: no second silence probe
  await settle();
  deepEqual(h.probed, ["10.0.0.2"]);
});

Deno.test("LivenessMonitor probes a peer whose link broke at once and every tick, then convicts", async () => {
  const h = harness({}, "refused");
  h.monitor.connectionLost("10.0.0.2:7000");
  await settle();
  h.at(10_250);
  h.monitor.tick();
  await settle();
  deepEqual(h.probed, ["10.0.0.2", "10.0.0.2"]);
  deepEqual(h.convicted, ["10.0.0.2:7000"]);
});

Deno.test("LivenessMonitor does nothing with livenessProbes off", async () => {
  const h = harness({ livenessProbes: false }, "refused");
  h.monitor.connectionLost("10.0.0.2:7000");
  h.at(60_000);
  h.monitor.tick();
  await settle();
  equal(h.probed.length, 0);
});
