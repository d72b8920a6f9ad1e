import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { ApplicationState, type EndpointState } from "../wire/gossip_payloads.ts";
import { EndpointStateRecord, HIGHEST_VERSION } from "./endpoint_state.ts";
import { EndpointStateMap } from "./endpoint_state_map.ts";
import { FailureDetector } from "./failure_detector.ts";
import { type GossipConfig, resolveGossipConfig } from "./gossip_config.ts";
import { type GossipEvent, GossipMetrics } from "./gossip_events.ts";

const NOW_S = 1_700_000_000;
const PEER = { host: "10.0.0.2", port: 7000 };
const PEER_KEY = "10.0.0.2:7000";

function harness(config: Partial<GossipConfig> = {}) {
  const events: GossipEvent[] = [];
  const asked: string[] = [];
  const resets: string[] = [];
  const versions: Array<[string, number]> = [];
  let monotonicMs = 0;
  const metrics = new GossipMetrics();
  const detector = new FailureDetector();
  const map = new EndpointStateMap({
    config: resolveGossipConfig(config),
    detector,
    metrics,
    nowMs: () => NOW_S * 1000 + monotonicMs,
    monotonicMs: () => monotonicMs,
    onError: () => {},
    requestAlive: (key) => asked.push(key),
    onReset: (key) => resets.push(key),
    onNetVersion: (address, version) => versions.push([address.host, version]),
  });
  map.setLocal({ host: "10.0.0.1", port: 7000 }, new EndpointStateRecord(NOW_S, 1));
  map.subscribe((event) => events.push(event));
  return {
    map,
    events,
    asked,
    resets,
    versions,
    metrics,
    detector,
    advance: (ms: number) => (monotonicMs += ms),
  };
}

function state(
  generation: number,
  heartbeat: number,
  states: Array<[number, string, number]> = [],
): EndpointState {
  return {
    heartbeat: { generation, version: heartbeat },
    applicationStates: new Map(
      states.map(([ordinal, value, version]) => [ordinal, { value, version }]),
    ),
  };
}

const types = (events: GossipEvent[]) => events.map((e) => e.type);

Deno.test("EndpointStateMap.apply() joins a new endpoint, with a change per state, then asks for an echo", () => {
  const h = harness();
  h.map.apply([{
    address: PEER,
    state: state(NOW_S, 5, [[ApplicationState.NET_VERSION, "12", 3]]),
  }], 7000);
  deepEqual(types(h.events), ["join", "change"]);
  deepEqual(h.asked, [PEER_KEY]);
  deepEqual(h.versions, [["10.0.0.2", 12]]);
  equal(h.map.get(PEER_KEY)?.record.alive, false);
  h.map.markAlive(PEER_KEY, NOW_S);
  equal(h.map.get(PEER_KEY)?.record.alive, true);
  equal(h.events.at(-1)?.type, "alive");
});

Deno.test("EndpointStateMap.markAlive() ignores an echo answered for an older generation", () => {
  const h = harness();
  h.map.apply([{ address: PEER, state: state(NOW_S, 5) }], 7000);
  h.map.apply([{ address: PEER, state: state(NOW_S + 10, 1) }], 7000); // restarted meanwhile
  h.map.markAlive(PEER_KEY, NOW_S);
  equal(h.map.get(PEER_KEY)?.record.alive, false);
});

Deno.test("EndpointStateMap.apply() ignores older generations and older versions", () => {
  const h = harness();
  h.map.apply(
    [{ address: PEER, state: state(NOW_S, 5, [[ApplicationState.LOAD, "new", 5]]) }],
    7000,
  );
  h.map.apply([{
    address: PEER,
    state: state(NOW_S - 1, 99, [[ApplicationState.LOAD, "old", 99]]),
  }], 7000);
  h.map.apply(
    [{ address: PEER, state: state(NOW_S, 4, [[ApplicationState.LOAD, "old", 4]]) }],
    7000,
  );
  equal(h.map.get(PEER_KEY)?.record.value(ApplicationState.LOAD), "new");
  equal(h.map.get(PEER_KEY)?.record.heartbeatVersion, 5);
});

Deno.test("EndpointStateMap.apply() replaces the state on a restart and reports it", () => {
  const h = harness();
  h.map.apply([{ address: PEER, state: state(NOW_S, 5, [[ApplicationState.LOAD, "1", 5]]) }], 7000);
  h.map.markAlive(PEER_KEY, NOW_S);
  h.events.length = 0;
  h.map.apply([{ address: PEER, state: state(NOW_S + 60, 1) }], 7000);
  deepEqual(types(h.events), ["dead", "restart"]);
  equal(h.map.get(PEER_KEY)?.record.value(ApplicationState.LOAD), undefined);
  ok(h.resets.includes(PEER_KEY));
});

Deno.test("EndpointStateMap.apply() ignores gossip about this node and from a year ahead", () => {
  const h = harness();
  h.map.apply([{ address: { host: "10.0.0.1", port: 7000 }, state: state(NOW_S + 5, 9) }], 7000);
  equal(h.map.get("10.0.0.1:7000")?.record.generation, NOW_S);
  h.map.apply([{ address: PEER, state: state(NOW_S + 400 * 86_400, 1) }], 7000);
  equal(h.map.get(PEER_KEY), undefined);
  equal(h.metrics.rejectedStates, 1);
});

Deno.test("EndpointStateMap.apply() stops learning new endpoints at maxEndpoints and counts it", () => {
  const h = harness({ maxEndpoints: 3 });
  for (let i = 2; i < 10; i++) {
    h.map.apply([{ address: { host: `10.0.0.${i}`, port: 7000 }, state: state(NOW_S, 1) }], 7000);
  }
  equal(h.map.entries.size, 3);
  equal(h.metrics.rejectedStates, 6);
});

Deno.test("EndpointStateMap.apply() gives a version-11 address (port 0) the shared port", () => {
  const h = harness();
  h.map.apply([{ address: { host: "10.0.0.2", port: 0 }, state: state(NOW_S, 1) }], 7000);
  ok(h.map.get(PEER_KEY) !== undefined);
});

Deno.test("EndpointStateMap emits left when a LEFT status arrives by merge, and marks it down", () => {
  const h = harness();
  h.map.apply([{
    address: PEER,
    state: state(NOW_S, 5, [[ApplicationState.STATUS_WITH_PORT, "NORMAL,1", 2]]),
  }], 7000);
  h.map.markAlive(PEER_KEY, NOW_S);
  h.events.length = 0;
  const expireAt = NOW_S * 1000 + 3_600_000;
  h.map.apply([{
    address: PEER,
    state: state(NOW_S, 6, [[ApplicationState.STATUS_WITH_PORT, `LEFT,1,${expireAt}`, 6]]),
  }], 7000);
  deepEqual(types(h.events), ["change", "dead", "left"]);
  equal(h.map.get(PEER_KEY)?.record.alive, false);
  // Still known until its LEFT status expires, then forgotten and quarantined.
  h.advance(3_600_001);
  h.map.expire();
  equal(h.map.get(PEER_KEY), undefined);
  h.map.apply([{ address: PEER, state: state(NOW_S, 7) }], 7000);
  equal(h.map.get(PEER_KEY), undefined, "quarantined");
});

Deno.test("EndpointStateMap.markAsShutdown() keeps older gossip from reviving the node", () => {
  const h = harness();
  h.map.apply([{ address: PEER, state: state(NOW_S, 5) }], 7000);
  h.map.markAlive(PEER_KEY, NOW_S);
  h.map.markAsShutdown(PEER_KEY, NOW_S * 1000 + 5);
  equal(h.map.get(PEER_KEY)?.record.heartbeatVersion, HIGHEST_VERSION);
  equal(h.map.get(PEER_KEY)?.record.status?.kind, "shutdown");
  h.asked.length = 0;
  h.map.apply(
    [{ address: PEER, state: state(NOW_S, 50, [[ApplicationState.LOAD, "x", 50]]) }],
    7000,
  );
  deepEqual(h.asked, [], "no echo for a shut-down node");
  equal(h.map.get(PEER_KEY)?.record.alive, false);
  // A restart (new generation) brings it back.
  h.map.apply([{ address: PEER, state: state(NOW_S + 30, 1) }], 7000);
  deepEqual(h.asked, [PEER_KEY]);
});

Deno.test("EndpointStateMap.remove() quarantines for quarantineDelayMs, then forgets the quarantine", () => {
  const h = harness({ quarantineDelayMs: 60_000 });
  h.map.apply([{ address: PEER, state: state(NOW_S, 5) }], 7000);
  h.map.remove(PEER_KEY);
  equal(h.events.at(-1)?.type, "left");
  h.advance(59_000);
  h.map.expire();
  h.map.apply([{ address: PEER, state: state(NOW_S, 6) }], 7000);
  equal(h.map.get(PEER_KEY), undefined);
  h.advance(2_000);
  h.map.expire();
  h.map.apply([{ address: PEER, state: state(NOW_S, 6) }], 7000);
  ok(h.map.get(PEER_KEY) !== undefined);
  throws(() => h.map.remove("10.0.0.1:7000"), /own gossip/);
});

Deno.test("EndpointStateMap reports a throwing subscriber and goes on", () => {
  const errors: unknown[] = [];
  const metrics = new GossipMetrics();
  const map = new EndpointStateMap({
    config: resolveGossipConfig(),
    detector: new FailureDetector(),
    metrics,
    nowMs: () => NOW_S * 1000,
    monotonicMs: () => 0,
    onError: (error) => errors.push(error),
    requestAlive: () => {},
    onReset: () => {},
    onNetVersion: () => {},
  });
  const seen: string[] = [];
  map.subscribe(() => {
    throw new Error("subscriber bug");
  });
  map.subscribe((event) => seen.push(event.type));
  map.apply([{ address: PEER, state: state(NOW_S, 1) }], 7000);
  deepEqual(seen, ["join"]);
  equal(errors.length, 1);
  equal(metrics.listenerErrors, 1);
});

Deno.test("EndpointStateMap.markAsShutdown() ignores a delayed shutdown of an earlier incarnation", () => {
  const h = harness();
  h.map.apply([{ address: PEER, state: state(NOW_S + 60, 5) }], 7000);
  h.map.markAlive(PEER_KEY, NOW_S + 60);
  h.map.markAsShutdown(PEER_KEY, NOW_S * 1000 + 30_000); // sent by the process before the restart
  equal(h.map.get(PEER_KEY)?.record.alive, true);
  equal(h.map.get(PEER_KEY)?.record.status, undefined);
});

Deno.test("EndpointStateMap.markAsShutdown() leaves a LEFT node LEFT", () => {
  const h = harness();
  const left = `LEFT,1,${NOW_S * 1000 + 3_600_000}`;
  h.map.apply([{
    address: PEER,
    state: state(NOW_S, 5, [[ApplicationState.STATUS_WITH_PORT, left, 5]]),
  }], 7000);
  h.map.markAsShutdown(PEER_KEY, NOW_S * 1000 + 5);
  equal(h.map.get(PEER_KEY)?.record.status?.kind, "LEFT");
  equal(h.map.get(PEER_KEY)?.record.heartbeatVersion, 5);
});

Deno.test("EndpointStateMap.apply() rejects a state with more application states than the bound", () => {
  const h = harness();
  const many: Array<[number, string, number]> = Array.from(
    { length: 65 },
    (_, i) => [100 + i, "x", 1],
  );
  h.map.apply([{ address: PEER, state: state(NOW_S, 5, many) }], 7000);
  equal(h.map.get(PEER_KEY), undefined);
  equal(h.metrics.rejectedStates, 1);
});

Deno.test("EndpointStateMap.expire() evicts a down node that never announced a status after 30 s", () => {
  const h = harness({ quarantineDelayMs: 60_000 });
  h.map.apply([{ address: PEER, state: state(NOW_S, 5) }], 7000); // no STATUS: not a member
  const member = { host: "10.0.0.3", port: 7000 };
  h.map.apply([{
    address: member,
    state: state(NOW_S, 5, [[ApplicationState.STATUS_WITH_PORT, "NORMAL,7", 5]]),
  }], 7000);
  h.advance(29_000);
  h.map.expire();
  ok(h.map.get(PEER_KEY) !== undefined, "evicted too early");
  h.advance(2_000);
  h.map.expire();
  equal(h.map.get(PEER_KEY), undefined);
  equal(h.events.at(-1)?.type, "left");
  ok(h.map.get("10.0.0.3:7000") !== undefined, "a down member must stay (DOWN never removes)");
});

Deno.test("EndpointStateMap.expire() keeps a status-less node whose heartbeat advances; an evicted one returns at once", () => {
  const h = harness({ quarantineDelayMs: 60_000 });
  h.map.apply([{ address: PEER, state: state(NOW_S, 5) }], 7000);
  for (let i = 1; i <= 10; i++) {
    h.advance(10_000);
    h.map.apply([{ address: PEER, state: state(NOW_S, 5 + i) }], 7000); // relayed heartbeats
    h.map.expire();
  }
  ok(h.map.get(PEER_KEY) !== undefined, "a node that keeps beating was evicted");
  h.advance(31_000);
  h.map.expire();
  equal(h.map.get(PEER_KEY), undefined);
  h.map.apply([{ address: PEER, state: state(NOW_S, 99) }], 7000);
  ok(h.map.get(PEER_KEY) !== undefined, "not quarantined: its next gossip brings it back");
});

Deno.test("EndpointStateMap.markAsShutdown() accepts a shutdown sent just after a fast restart", () => {
  const h = harness();
  // The generation ran one second ahead of the clock (stored + 1): a shutdown sent at the
  // generation's start time minus a second is still this incarnation's.
  h.map.apply([{ address: PEER, state: state(NOW_S + 1, 5) }], 7000);
  h.map.markAlive(PEER_KEY, NOW_S + 1);
  h.map.markAsShutdown(PEER_KEY, NOW_S * 1000 + 100);
  equal(h.map.get(PEER_KEY)?.record.status?.kind, "shutdown");
});
