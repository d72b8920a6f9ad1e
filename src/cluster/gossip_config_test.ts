import { deepEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import {
  GOSSIP_CONFIG_DEFAULTS,
  type GossipConfig,
  MURMUR3_PARTITIONER_NAME,
  resolveGossipConfig,
} from "./gossip_config.ts";

type NumericKey = {
  [K in keyof GossipConfig]: GossipConfig[K] extends number ? K : never;
}[keyof GossipConfig];

/** Every integer setting, validated as an integer >= 1. */
const INTEGER_KEYS: NumericKey[] = [
  "gossipIntervalMs",
  "failureDetectorWindowSize",
  "failureDetectorInitialIntervalMs",
  "failureDetectorMaxIntervalMs",
  "maxLocalPauseMs",
  "ringDelayMs",
  "shadowRoundResendMs",
  "quarantineDelayMs",
  "leftExpiryMs",
  "maxEndpoints",
  "maxDigestsPerSyn",
  "maxStateBytesPerMessage",
  "livenessProbeAfterMs",
  "livenessProbeIntervalMs",
  "livenessProbeTimeoutMs",
  "livenessProbeRefusalsToConvict",
];

function throwsNaming(overrides: Partial<GossipConfig>, field: string): void {
  throws(
    () => resolveGossipConfig(overrides),
    (error: unknown) => {
      ok(error instanceof RangeError, `${JSON.stringify(overrides)}: ${String(error)}`);
      ok(error.message.startsWith("Cannot configure gossip: "), error.message);
      ok(error.message.includes(field), `${error.message} names ${field}`);
      return true;
    },
    String(Object.values(overrides)[0]),
  );
}

Deno.test("resolveGossipConfig() returns Cassandra's defaults when given nothing", () => {
  const config = resolveGossipConfig();
  equal(config.gossipIntervalMs, 1000);
  equal(config.phiConvictThreshold, 8);
  equal(config.failureDetectorWindowSize, 1000);
  equal(config.failureDetectorInitialIntervalMs, 2000);
  equal(config.failureDetectorMaxIntervalMs, 2000);
  equal(config.maxLocalPauseMs, 5000);
  equal(config.ringDelayMs, 30_000);
  equal(config.shadowRoundResendMs, 5000);
  equal(config.quarantineDelayMs, 60_000);
  equal(config.leftExpiryMs, 259_200_000, "3 days");
  equal(config.clusterName, "Test Cluster");
  equal(config.partitionerName, "org.apache.cassandra.dht.Murmur3Partitioner");
  equal(MURMUR3_PARTITIONER_NAME, "org.apache.cassandra.dht.Murmur3Partitioner");
  deepEqual(config.seeds, []);
  equal(config.shadowRound, true);
  deepEqual(config, GOSSIP_CONFIG_DEFAULTS);
});

Deno.test("resolveGossipConfig() applies overrides and keeps the other defaults", () => {
  const seeds = [{ host: "10.0.0.1", port: 7000 }];
  const config = resolveGossipConfig({
    clusterName: "ring",
    seeds,
    gossipIntervalMs: 200,
    phiConvictThreshold: 12,
    shadowRound: false,
  });
  equal(config.clusterName, "ring");
  deepEqual(config.seeds, seeds);
  equal(config.gossipIntervalMs, 200);
  equal(config.phiConvictThreshold, 12);
  equal(config.shadowRound, false);
  equal(config.ringDelayMs, 30_000);
  equal(GOSSIP_CONFIG_DEFAULTS.gossipIntervalMs, 1000, "the defaults are not modified");
});

Deno.test("resolveGossipConfig() returns a frozen config and defaults", () => {
  ok(Object.isFrozen(resolveGossipConfig()));
  ok(Object.isFrozen(GOSSIP_CONFIG_DEFAULTS));
  notEqual(resolveGossipConfig(), GOSSIP_CONFIG_DEFAULTS, "a copy, not the defaults object");
});

Deno.test("resolveGossipConfig() throws RangeError naming the field when an integer setting is 0", () => {
  for (const key of INTEGER_KEYS) throwsNaming({ [key]: 0 }, key);
});

Deno.test("resolveGossipConfig() throws RangeError naming the field when a setting is negative", () => {
  for (const key of INTEGER_KEYS) throwsNaming({ [key]: -1 }, key);
  throwsNaming({ phiConvictThreshold: -1 }, "phiConvictThreshold");
});

Deno.test("resolveGossipConfig() throws RangeError naming the field when a setting is NaN or infinite", () => {
  for (const key of [...INTEGER_KEYS, "phiConvictThreshold" as const]) {
    throwsNaming({ [key]: NaN }, key);
    throwsNaming({ [key]: Infinity }, key);
  }
});

Deno.test("resolveGossipConfig() throws RangeError naming the field when an integer setting is a fraction", () => {
  for (const key of INTEGER_KEYS) {
    // Far above every lower bound, so only the fraction is wrong.
    throwsNaming({ [key]: 1_000_000.5 }, key);
    throwsNaming({ [key]: 0.5 }, key);
  }
});

Deno.test("resolveGossipConfig() accepts a fractional phiConvictThreshold in (0, 1000]", () => {
  // Cassandra's phi_convict_threshold is a double.
  equal(resolveGossipConfig({ phiConvictThreshold: 0.5 }).phiConvictThreshold, 0.5);
  equal(resolveGossipConfig({ phiConvictThreshold: 12.25 }).phiConvictThreshold, 12.25);
  equal(resolveGossipConfig({ phiConvictThreshold: 1000 }).phiConvictThreshold, 1000);
  throwsNaming({ phiConvictThreshold: 0 }, "phiConvictThreshold");
  throwsNaming({ phiConvictThreshold: 1000.5 }, "phiConvictThreshold");
});

Deno.test("resolveGossipConfig() accepts 1 for every integer setting but the state byte bound", () => {
  for (const key of INTEGER_KEYS) {
    if (key === "maxStateBytesPerMessage") continue;
    equal(resolveGossipConfig({ [key]: 1 })[key], 1, key);
  }
});

Deno.test("resolveGossipConfig() throws RangeError when maxStateBytesPerMessage is below 64 KiB", () => {
  throwsNaming({ maxStateBytesPerMessage: 65_535 }, "maxStateBytesPerMessage");
  throwsNaming({ maxStateBytesPerMessage: 1 }, "maxStateBytesPerMessage");
  equal(resolveGossipConfig({ maxStateBytesPerMessage: 65_536 }).maxStateBytesPerMessage, 65_536);
});

Deno.test("resolveGossipConfig() throws RangeError when a setting is not a number", () => {
  const bogus = { gossipIntervalMs: "1000" } as unknown as Partial<GossipConfig>;
  throwsNaming(bogus, "gossipIntervalMs");
});

Deno.test("resolveGossipConfig() throws RangeError when clusterName is empty or over 256 characters", () => {
  throwsNaming({ clusterName: "" }, "clusterName");
  throwsNaming({ clusterName: "c".repeat(257) }, "clusterName");
  equal(resolveGossipConfig({ clusterName: "c" }).clusterName, "c");
  equal(resolveGossipConfig({ clusterName: "c".repeat(256) }).clusterName.length, 256);
});

Deno.test("resolveGossipConfig() validates every numeric setting of the defaults", () => {
  // Fails when a numeric setting is added without being listed (and validated) here.
  const numeric = Object.entries(GOSSIP_CONFIG_DEFAULTS)
    .filter(([, value]) => typeof value === "number")
    .map(([key]) => key)
    .sort();
  deepEqual(numeric, [...INTEGER_KEYS, "livenessProbePhi", "phiConvictThreshold"].sort());
});

Deno.test("resolveGossipConfig() takes livenessProbePhi in [0, 1000] and livenessProbes as a boolean", () => {
  equal(resolveGossipConfig().livenessProbePhi, 2);
  equal(resolveGossipConfig({ livenessProbePhi: 0 }).livenessProbePhi, 0);
  equal(resolveGossipConfig({ livenessProbePhi: 1.5 }).livenessProbePhi, 1.5);
  throwsNaming({ livenessProbePhi: -1 }, "livenessProbePhi");
  throwsNaming({ livenessProbePhi: Number.NaN }, "livenessProbePhi");
  equal(resolveGossipConfig({ livenessProbes: false }).livenessProbes, false);
  throwsNaming({ livenessProbes: "no" } as unknown as Partial<GossipConfig>, "livenessProbes");
});

Deno.test("resolveGossipConfig() writes seeds as canonical IP literals and refuses names", () => {
  const config = resolveGossipConfig({
    seeds: [{ host: "FD00:0:0:0:0:0:0:1", port: 7000 }, { host: "10.0.0.1", port: 7001 }],
  });
  equal(config.seeds[0]?.host, "fd00::1");
  equal(config.seeds[1]?.host, "10.0.0.1");
  throwsNaming({ seeds: [{ host: "seed.example", port: 7000 }] }, "seed.example");
  throwsNaming({ seeds: [{ host: "10.0.0.1", port: 70000 }] }, "70000");
});
