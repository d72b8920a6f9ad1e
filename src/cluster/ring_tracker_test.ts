import { deepEqual, equal, ok, strictEqual } from "node:assert/strict";
import { ApplicationState, type VersionedValue } from "../wire/gossip_payloads.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import type { GossipEvent, GossipListener } from "./gossip_events.ts";
import { parseStatus } from "./gossip_status.ts";
import {
  PENDING_RANGES_CACHE_MAX,
  type RingChange,
  type RingSource,
  type RingSourceEndpoint,
  RingTracker,
} from "./ring_tracker.ts";
import type { PlacementStrategy } from "./token_ring.ts";

const { STATUS_WITH_PORT: STATUS, TOKENS, DC, RACK, LOAD } = ApplicationState;
const rf = (replicationFactor: number): PlacementStrategy => ({
  class: "SimpleStrategy",
  replicationFactor,
});

interface FakeEndpoint {
  address: InetAddressAndPort;
  generation: number;
  alive: boolean;
  states: Map<number, VersionedValue>;
}

/** A gossiper stand-in: endpoints whose states the test sets, with the events a gossiper sends. */
class FakeGossip implements RingSource {
  readonly localAddress = address("local");
  readonly #endpoints = new Map<string, FakeEndpoint>();
  readonly #listeners = new Set<GossipListener>();
  #version = 0;

  subscribe(listener: GossipListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  endpoint(address: InetAddressAndPort): RingSourceEndpoint | undefined {
    const key = `${address.host}:${address.port}`;
    const known = this.#endpoints.get(key);
    if (known === undefined) return undefined;
    return {
      address: known.address,
      key,
      alive: known.alive,
      generation: known.generation,
      status: known.states.has(STATUS) ? parseStatus(known.states.get(STATUS)!.value) : undefined,
      states: new Map(known.states),
    };
  }

  endpoints(): RingSourceEndpoint[] {
    return [...this.#endpoints.values()].map((known) => this.endpoint(known.address)!);
  }

  /** Sets states of `host` (joining it at generation 1 if new), one `change` event each. */
  set(host: string, states: Record<number, string>): void {
    const key = `${host}:7000`;
    let known = this.#endpoints.get(key);
    if (known === undefined) {
      known = { address: address(host), generation: 1, alive: true, states: new Map() };
      this.#endpoints.set(key, known);
      this.#emit({ type: "join", address: known.address, key, generation: 1 });
    }
    for (const [ordinal, value] of Object.entries(states)) {
      known.states.set(Number(ordinal), { value, version: ++this.#version });
      this.#emit({ type: "change", address: known.address, key, ordinal: Number(ordinal), value });
    }
  }

  /** A normal member with `tokens`. */
  normal(host: string, tokens: bigint[], generation?: number): void {
    if (generation !== undefined) this.restart(host, generation);
    this.set(host, { [TOKENS]: tokens.join(","), [STATUS]: `NORMAL,${tokens[0]}` });
  }

  /** `host` restarts with `generation`: its states are replaced by none. */
  restart(host: string, generation: number): void {
    const key = `${host}:7000`;
    const known = { address: address(host), generation, alive: true, states: new Map() };
    const existed = this.#endpoints.has(key);
    this.#endpoints.set(key, known);
    this.#emit({ type: existed ? "restart" : "join", address: known.address, key, generation });
  }

  /** Marks `host` down, as a conviction does. */
  markDead(host: string): void {
    const known = this.#endpoints.get(`${host}:7000`)!;
    known.alive = false;
    this.#emit({ type: "dead", address: known.address, key: `${host}:7000`, reason: "phi" });
  }

  /** Forgets `host`, as `Gossiper.removeEndpoint` does. */
  remove(host: string): void {
    this.#endpoints.delete(`${host}:7000`);
    this.#emit({ type: "left", address: address(host), key: `${host}:7000` });
  }

  #emit(event: GossipEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

function address(host: string): InetAddressAndPort {
  return { host, port: 7000 };
}

/** A tracker over a fake gossip with normal members a (0, 200), b (100, 300), c (400, 500). */
function threeNodes(): { gossip: FakeGossip; tracker: RingTracker; changes: RingChange[] } {
  const gossip = new FakeGossip();
  const tracker = new RingTracker({ source: gossip, datacenter: "dcl", rack: "rl" });
  const changes: RingChange[] = [];
  tracker.onChange((change) => changes.push(change));
  gossip.normal("a", [0n, 200n]);
  gossip.normal("b", [100n, 300n]);
  gossip.normal("c", [400n, 500n]);
  return { gossip, tracker, changes };
}

Deno.test("ring() holds the NORMAL members with every token of their TOKENS state", () => {
  const { tracker } = threeNodes();
  deepEqual(tracker.ring().tokens, [0n, 100n, 200n, 300n, 400n, 500n]);
  equal(tracker.ring().primaryOf(150n), "a:7000");
  equal(tracker.ring().primaryOf(250n), "b:7000");
  equal(tracker.ring().primaryOf(501n), "a:7000");
  deepEqual(tracker.members().map((m) => [m.key, m.state, m.tokens]), [
    ["a:7000", "normal", 2],
    ["b:7000", "normal", 2],
    ["c:7000", "normal", 2],
  ]);
  ok(tracker.pendingRanges(rf(1)).isEmpty);
});

Deno.test("a BOOT node is pending, then on NORMAL it is on the ring and no longer pending", () => {
  const { gossip, tracker, changes } = threeNodes();
  changes.length = 0;
  gossip.set("d", { [TOKENS]: "50", [STATUS]: "BOOT,50" });
  deepEqual(changes, [{ key: "d:7000", state: "joining" }]);
  equal(tracker.ring().member("d:7000"), undefined);
  const pending = tracker.pendingRanges(rf(1));
  deepEqual([...pending.byNode.keys()], ["d:7000"]);
  deepEqual(pending.rangesOf("d:7000"), [{ left: 0n, right: 50n }]);
  deepEqual(tracker.members().find((m) => m.key === "d:7000"), {
    key: "d:7000",
    state: "joining",
    status: "BOOT",
    alive: true,
    tokens: 1,
    dc: "dc1",
    rack: "rack1",
    ownership: 0,
  });
  gossip.set("d", { [STATUS]: "NORMAL,50" });
  deepEqual(changes.at(-1), { key: "d:7000", state: "normal" });
  equal(tracker.ring().primaryOf(20n), "d:7000");
  ok(tracker.pendingRanges(rf(1)).isEmpty);
});

Deno.test("a LEAVING node's ranges are pending on the nodes that take over; LEFT removes it", () => {
  const { gossip, tracker, changes } = threeNodes();
  gossip.set("c", { [STATUS]: "LEAVING,400" });
  equal(tracker.ring().primaryOf(350n), "c:7000"); // still on the ring while leaving
  equal(tracker.members().find((m) => m.key === "c:7000")?.state, "leaving");
  const pending = tracker.pendingRanges(rf(1));
  // c's ranges (300, 400] and (400, 500] go to a, whose token 0 follows 500.
  deepEqual([...pending.byNode], [["a:7000", [{ left: 300n, right: 500n }]]]);
  deepEqual(
    tracker.pendingRanges(rf(2)).byNode,
    new Map([["a:7000", [{ left: 200n, right: 300n }]], ["b:7000", [{ left: 300n, right: 500n }]]]),
  );
  gossip.set("c", { [STATUS]: "LEFT,400,1700000000000" });
  deepEqual(changes.at(-1), { key: "c:7000", state: "removed" });
  deepEqual(tracker.ring().nodes.sort(), ["a:7000", "b:7000"]);
  ok(tracker.pendingRanges(rf(1)).isEmpty);
  // The shutdown that follows a decommission must not put it back.
  gossip.set("c", { [STATUS]: "shutdown,true" });
  equal(tracker.ring().member("c:7000"), undefined);
  equal(tracker.members().length, 2);
});

Deno.test("a left event (removeEndpoint) and a removed status take a node off the ring", () => {
  const { gossip, tracker } = threeNodes();
  gossip.remove("b");
  deepEqual(tracker.ring().nodes.sort(), ["a:7000", "c:7000"]);
  gossip.set("c", { [STATUS]: "removed,host-c,1700000000000" });
  deepEqual(tracker.ring().nodes, ["a:7000"]);
  deepEqual(tracker.members().map((m) => m.key), ["a:7000"]);
});

Deno.test("a DOWN node stays on the ring, and a shut down one keeps its tokens", () => {
  const { gossip, tracker, changes } = threeNodes();
  const ring = tracker.ring();
  changes.length = 0;
  gossip.markDead("b");
  strictEqual(tracker.ring(), ring);
  equal(tracker.members().find((m) => m.key === "b:7000")?.alive, false);
  gossip.set("c", { [STATUS]: "shutdown,true" });
  strictEqual(tracker.ring(), ring);
  deepEqual(changes, []);
  deepEqual(tracker.members().find((m) => m.key === "c:7000")?.status, "shutdown");
  // It restarts (a new generation replaces its states) and announces NORMAL before TOKENS.
  gossip.restart("c", 2);
  gossip.set("c", { [STATUS]: "NORMAL,400" });
  deepEqual(tracker.ring().member("c:7000")?.tokens, [400n, 500n]);
});

Deno.test("a node first seen shut down is a normal member with its gossiped tokens", () => {
  const gossip = new FakeGossip();
  gossip.set("a", { [TOKENS]: "7,8", [STATUS]: "shutdown,true" });
  const tracker = new RingTracker({ source: gossip });
  deepEqual(tracker.ring().member("a:7000")?.tokens, [7n, 8n]);
  equal(tracker.members()[0]?.state, "normal");
});

Deno.test("a contested token goes to the higher generation, then the smaller key; counted", () => {
  const gossip = new FakeGossip();
  const tracker = new RingTracker({ source: gossip });
  gossip.normal("a", [0n, 100n], 10);
  gossip.normal("b", [100n, 200n], 20);
  equal(tracker.tokenConflicts, 1);
  equal(tracker.ring().primaryOf(100n), "b:7000");
  deepEqual(tracker.ring().member("a:7000")?.tokens, [0n]);
  deepEqual(tracker.members().map((m) => m.tokens), [1, 2]);
  // Equal generations: the smaller key wins, whichever claimed first.
  gossip.normal("d", [300n], 20);
  gossip.normal("c", [300n], 20);
  equal(tracker.tokenConflicts, 2);
  equal(tracker.ring().primaryOf(300n), "c:7000");
  equal(tracker.ring().member("d:7000"), undefined); // no token left: off the ring
  // A joining node never takes a ring member's token, however new.
  gossip.set("e", { [TOKENS]: "0,50" });
  gossip.restart("e", 99);
  gossip.set("e", { [TOKENS]: "0,50", [STATUS]: "BOOT,0" });
  equal(tracker.tokenConflicts, 3);
  deepEqual(tracker.pendingRanges(rf(1)).byNode, new Map([["e:7000", [{ left: 0n, right: 50n }]]]));
  // A restart (a newer generation) wins the token over; the winner leaving gives it back.
  const changes: RingChange[] = [];
  tracker.onChange((change) => changes.push(change));
  gossip.restart("a", 30);
  deepEqual(changes, [{ key: "a:7000", state: "normal" }]);
  deepEqual(tracker.ring().member("a:7000")?.tokens, [0n, 100n]);
  deepEqual(tracker.ring().member("b:7000")?.tokens, [200n]);
  gossip.remove("a");
  deepEqual(tracker.ring().member("b:7000")?.tokens, [100n, 200n]);
  equal(tracker.tokenConflicts, 3);
});

Deno.test("invalid TOKENS values are counted and ignored, never thrown", () => {
  const { gossip, tracker } = threeNodes();
  for (const value of ["", "1,,2", "x", "1,1", "99999999999999999999", "01"]) {
    gossip.set("c", { [TOKENS]: value });
  }
  gossip.set("c", { [TOKENS]: "01" }); // the same bad value again is not counted again
  gossip.set("d", { [TOKENS]: "nope", [STATUS]: "NORMAL,5" });
  equal(tracker.invalidTokenStates, 7);
  deepEqual(tracker.ring().member("c:7000")?.tokens, [400n, 500n]); // the last valid ones
  equal(tracker.ring().member("d:7000"), undefined);
  equal(tracker.members().find((m) => m.key === "d:7000")?.tokens, 0);
  gossip.set("d", { [TOKENS]: "5" });
  deepEqual(tracker.ring().member("d:7000")?.tokens, [5n]);
});

Deno.test("the snitch and members() read DC/RACK gossip; this node's place is configured", () => {
  const gossip = new FakeGossip();
  const tracker = new RingTracker({ source: gossip, datacenter: "dcl", rack: "rl" });
  gossip.set("local", { [DC]: "ignored", [RACK]: "ignored", [TOKENS]: "0", [STATUS]: "NORMAL,0" });
  gossip.set("b", { [DC]: "us", [RACK]: "r2", [TOKENS]: "-4611686018427387904" });
  gossip.set("b", { [STATUS]: "NORMAL,-4611686018427387904" });
  equal(tracker.snitch.datacenterOf("local:7000"), "dcl");
  equal(tracker.snitch.rackOf("b:7000"), "r2");
  deepEqual(tracker.members().map((m) => [m.key, m.dc, m.rack, m.ownership]), [
    ["b:7000", "us", "r2", 0.75], // (0, -2^62], wrapping
    ["local:7000", "dcl", "rl", 0.25],
  ]);
  const nts = { class: "NetworkTopologyStrategy", datacenters: { us: 1 } } as const;
  deepEqual(tracker.ring().replicasOf(0n, nts), ["b:7000"]);
  gossip.set("b", { [DC]: "dcl" }); // a new place changes the ring
  deepEqual(tracker.ring().replicasOf(0n, nts), []);
});

Deno.test("onChange() fires on membership changes only; a throwing listener is counted", () => {
  const errors: unknown[] = [];
  const gossip = new FakeGossip();
  const tracker = new RingTracker({ source: gossip, onError: (error) => errors.push(error) });
  const changes: RingChange[] = [];
  tracker.onChange(() => {
    throw new Error("listener bug");
  });
  const unsubscribe = tracker.onChange((change) => changes.push(change));
  gossip.set("a", { [STATUS]: "NORMAL,1" }); // no tokens yet: not on the ring
  gossip.set("a", { [TOKENS]: "1", [LOAD]: "10" });
  gossip.markDead("a");
  gossip.set("a", { [TOKENS]: "1", [LOAD]: "11" }); // same value: no change
  deepEqual(changes, [{ key: "a:7000", state: "normal" }]);
  equal(tracker.listenerErrors, 1);
  equal(errors.length, 1);
  unsubscribe();
  tracker.close();
  gossip.set("a", { [TOKENS]: "2" });
  equal(changes.length, 1);
  deepEqual(tracker.ring().tokens, [1n]); // closed: no longer follows gossip
});

Deno.test("ring() and pendingRanges() are cached until a change, for a bounded set of strategies", () => {
  const { gossip, tracker } = threeNodes();
  strictEqual(tracker.ring(), tracker.ring());
  strictEqual(tracker.pendingRanges(rf(2)), tracker.pendingRanges(rf(2)));
  const first = tracker.pendingRanges(rf(1));
  for (let i = 2; i <= PENDING_RANGES_CACHE_MAX + 1; i++) tracker.pendingRanges(rf(i));
  ok(tracker.pendingRanges(rf(1)) !== first, "the cache outgrew its bound");
  const ring = tracker.ring();
  gossip.set("a", { [TOKENS]: "0,200,600" });
  ok(tracker.ring() !== ring);
  deepEqual(tracker.ring().member("a:7000")?.tokens, [0n, 200n, 600n]);
});

Deno.test("resync() reads what the source knew before the tracker and drops what it forgot", () => {
  const gossip = new FakeGossip();
  gossip.normal("a", [1n]);
  gossip.normal("b", [2n]);
  const tracker = new RingTracker({ source: gossip });
  deepEqual(tracker.ring().tokens, [1n, 2n]);
  tracker.close();
  gossip.remove("a");
  tracker.resync();
  deepEqual(tracker.ring().nodes, ["b:7000"]);
});
