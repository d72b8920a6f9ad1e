import { deepEqual, equal, notDeepEqual, ok } from "node:assert/strict";
import fc from "fast-check";
import { Random } from "../random.ts";
import {
  ApplicationState,
  type EndpointStateEntry,
  endpointStateSerializer,
  type GossipDigest,
  gossipDigestAck2Serializer,
} from "../wire/gossip_payloads.ts";
import {
  formatInetAddress,
  type InetAddressAndPort,
  inetAddressSize,
} from "../wire/inet_address.ts";
import { serializePayload } from "../wire/payload_serializer.ts";
import { EndpointStateRecord } from "./endpoint_state.ts";
import {
  allStates,
  buildDigests,
  examineDigests,
  type KnownEndpoint,
  statesForDigests,
} from "./gossip_exchange.ts";

type View = Map<string, KnownEndpoint>;

const UNLIMITED_BYTES = Number.MAX_SAFE_INTEGER;
const VERSION = 12;

function addressOf(i: number): InetAddressAndPort {
  return { host: `10.0.${i >> 8}.${i & 0xff}`, port: 7000 };
}

function keyOf(i: number): string {
  return formatInetAddress(addressOf(i));
}

/** A record at `generation` with heartbeat `heartbeat` and DC/RACK set at the given versions. */
function record(generation: number, heartbeat: number, stateVersions: number[] = []) {
  const result = new EndpointStateRecord(generation, heartbeat);
  const ordinals = [ApplicationState.DC, ApplicationState.RACK, ApplicationState.HOST_ID];
  stateVersions.forEach((version, i) => {
    result.set(ordinals[i] as number, { value: `v${version}`, version });
  });
  return result;
}

function viewOf(...records: Array<[number, EndpointStateRecord]>): View {
  return new Map(records.map(([i, r]) => [keyOf(i), { address: addressOf(i), record: r }]));
}

function digest(i: number, generation: number, maxVersion: number): GossipDigest {
  return { address: addressOf(i), generation, maxVersion };
}

/** Serialized bytes of `entries` as this module counts them (no list count). */
function entryBytes(entries: readonly EndpointStateEntry[], version = VERSION): number {
  let bytes = 0;
  for (const { address, state } of entries) {
    bytes += inetAddressSize(address, version) +
      endpointStateSerializer.serializedSize(state, version);
  }
  return bytes;
}

/**
 * Applies received states the way the gossiper does, simplified: an unknown endpoint or a higher
 * generation replaces the record; the same generation merges the heartbeat and each state that is
 * newer; a lower generation is ignored.
 */
function apply(view: View, entries: readonly EndpointStateEntry[]): void {
  for (const { address, state } of entries) {
    const key = formatInetAddress(address);
    const local = view.get(key);
    if (local === undefined || state.heartbeat.generation > local.record.generation) {
      view.set(key, { address, record: EndpointStateRecord.fromWire(state) });
      continue;
    }
    if (state.heartbeat.generation < local.record.generation) continue;
    const mine = local.record;
    if (state.heartbeat.version > mine.heartbeatVersion) {
      mine.heartbeatVersion = state.heartbeat.version;
    }
    for (const [ordinal, value] of state.applicationStates) {
      const current = mine.states.get(ordinal);
      if (current === undefined || value.version > current.version) mine.set(ordinal, value);
    }
  }
}

/** One SYN → ACK → ACK2 round from `initiator` to `responder`; returns the bytes moved. */
function gossipRound(
  initiator: View,
  initiatorKey: string,
  responder: View,
  random: Random,
  maxStateBytes: number,
): { ackBytes: number; ack2Bytes: number } {
  const syn = buildDigests(initiator, initiatorKey, random, 1 << 20);
  const ack = examineDigests(syn, responder, maxStateBytes, VERSION);
  apply(initiator, ack.states);
  const ack2 = statesForDigests(ack.requests, initiator, maxStateBytes, VERSION);
  apply(responder, ack2);
  return { ackBytes: entryBytes(ack.states), ack2Bytes: entryBytes(ack2) };
}

// --- examineDigests: Cassandra's examineGossiper -----------------------------------------------

Deno.test("examineDigests() requests everything (maxVersion 0) when the endpoint is unknown", () => {
  const result = examineDigests([digest(2, 50, 9)], viewOf([1, record(10, 5)]), 1 << 20, VERSION);
  deepEqual(result.requests, [digest(2, 50, 0)]);
  deepEqual(result.states, []);
});

Deno.test("examineDigests() requests everything when the remote generation is higher", () => {
  const known = viewOf([1, record(10, 5, [7])]);
  const result = examineDigests([digest(1, 11, 1)], known, 1 << 20, VERSION);
  deepEqual(result.requests, [digest(1, 11, 0)]);
  deepEqual(result.states, []);
});

Deno.test("examineDigests() sends every state when the remote generation is lower", () => {
  const local = record(10, 5, [2, 3, 4]);
  // The remote's max version (99) is irrelevant: its generation is older.
  const result = examineDigests([digest(1, 9, 99)], viewOf([1, local]), 1 << 20, VERSION);
  deepEqual(result.requests, []);
  deepEqual(result.states, [{ address: addressOf(1), state: local.newerThan(-1) }]);
  equal(result.states[0]?.state.applicationStates.size, 3);
});

Deno.test("examineDigests() requests above the local max version when the remote is newer", () => {
  const known = viewOf([1, record(10, 5, [7])]);
  const result = examineDigests([digest(1, 10, 12)], known, 1 << 20, VERSION);
  deepEqual(result.requests, [digest(1, 10, 7)]);
  deepEqual(result.states, []);
});

Deno.test("examineDigests() sends the states above the remote's max version when it is older", () => {
  const local = record(10, 8, [3, 5, 6]);
  const result = examineDigests([digest(1, 10, 5)], viewOf([1, local]), 1 << 20, VERSION);
  deepEqual(result.requests, []);
  deepEqual(result.states, [{
    address: addressOf(1),
    state: {
      heartbeat: { generation: 10, version: 8 },
      applicationStates: new Map([[ApplicationState.HOST_ID, { value: "v6", version: 6 }]]),
    },
  }]);
});

Deno.test("examineDigests() returns nothing when generation and max version are equal", () => {
  const known = viewOf([1, record(10, 5, [7])]);
  deepEqual(examineDigests([digest(1, 10, 7)], known, 1 << 20, VERSION), {
    requests: [],
    states: [],
  });
});

Deno.test("examineDigests() answers each digest of a mixed SYN on its own", () => {
  const known = viewOf(
    [1, record(10, 5)], // remote newer generation
    [2, record(10, 5)], // remote older generation
    [3, record(10, 5)], // remote newer version
    [4, record(10, 5)], // remote older version
    [5, record(10, 5)], // equal
  );
  const result = examineDigests(
    [
      digest(1, 11, 1),
      digest(2, 9, 1),
      digest(3, 10, 6),
      digest(4, 10, 4),
      digest(5, 10, 5),
      digest(6, 3, 3),
    ],
    known,
    1 << 20,
    VERSION,
  );
  deepEqual(result.requests, [digest(1, 11, 0), digest(3, 10, 5), digest(6, 3, 0)]);
  deepEqual(result.states.map((entry) => entry.address), [addressOf(2), addressOf(4)]);
});

// --- statesForDigests and allStates -------------------------------------------------------------

Deno.test("statesForDigests() sends what is above each digest's max version", () => {
  const known = viewOf([1, record(10, 4, [2, 6])], [2, record(20, 3)]);
  const entries = statesForDigests(
    [digest(1, 10, 5), digest(2, 20, 3), digest(9, 1, 0)],
    known,
    1 << 20,
    VERSION,
  );
  deepEqual(entries, [{
    address: addressOf(1),
    state: {
      heartbeat: { generation: 10, version: 4 },
      applicationStates: new Map([[ApplicationState.RACK, { value: "v6", version: 6 }]]),
    },
  }], "endpoint 2 has nothing newer and endpoint 9 is unknown");
});

Deno.test("statesForDigests() sends everything when the digest's generation is not ours", () => {
  const local = record(10, 4, [2, 6]);
  for (const generation of [9, 11]) {
    const entries = statesForDigests([digest(1, generation, 50)], viewOf([1, local]), 1 << 20, 12);
    deepEqual(entries, [{ address: addressOf(1), state: local.newerThan(-1) }]);
  }
});

Deno.test("allStates() returns every known endpoint's full state", () => {
  const known = viewOf([1, record(10, 4, [2])], [2, record(20, 3, [1, 2, 3])]);
  deepEqual(allStates(known, 1 << 20, VERSION), [
    { address: addressOf(1), state: known.get(keyOf(1))?.record.newerThan(-1) },
    { address: addressOf(2), state: known.get(keyOf(2))?.record.newerThan(-1) },
  ]);
  deepEqual(allStates(new Map(), 1 << 20, VERSION), []);
});

// --- buildDigests -------------------------------------------------------------------------------

function manyEndpoints(n: number): View {
  const view: View = new Map();
  for (let i = 1; i <= n; i++) {
    view.set(keyOf(i), { address: addressOf(i), record: record(100 + i, i, [i + 1]) });
  }
  return view;
}

Deno.test("buildDigests() puts the local endpoint first and describes every endpoint", () => {
  const known = manyEndpoints(10);
  for (let seed = 0; seed < 20; seed++) {
    const digests = buildDigests(known, keyOf(7), new Random(seed), 100);
    deepEqual(digests[0], digest(7, 107, 8));
    equal(digests.length, 10);
    deepEqual(
      new Set(digests.map((d) => formatInetAddress(d.address))),
      new Set(known.keys()),
    );
    for (const d of digests) {
      const known1 = known.get(formatInetAddress(d.address));
      equal(d.generation, known1?.record.generation);
      equal(d.maxVersion, known1?.record.maxVersion);
    }
  }
});

Deno.test("buildDigests() caps the digests at maxDigests, the local one included", () => {
  const known = manyEndpoints(50);
  for (const maxDigests of [1, 2, 10, 49, 50, 51]) {
    const digests = buildDigests(known, keyOf(1), new Random(3), maxDigests);
    equal(digests.length, Math.min(maxDigests, 50), `maxDigests ${maxDigests}`);
    deepEqual(digests[0]?.address, addressOf(1));
    equal(new Set(digests.map((d) => formatInetAddress(d.address))).size, digests.length);
  }
});

Deno.test("buildDigests() covers every endpoint over rounds when capped", () => {
  const known = manyEndpoints(40);
  const random = new Random(42);
  const seen = new Set<string>();
  const orders = new Set<string>();
  for (let round = 0; round < 60; round++) {
    const digests = buildDigests(known, keyOf(1), random, 5);
    equal(digests.length, 5);
    deepEqual(digests[0]?.address, addressOf(1));
    for (const d of digests) seen.add(formatInetAddress(d.address));
    orders.add(digests.map((d) => formatInetAddress(d.address)).join(" "));
  }
  deepEqual(seen, new Set(known.keys()));
  ok(orders.size > 50, `the others are shuffled each round (${orders.size} distinct SYNs)`);
});

Deno.test("buildDigests() is deterministic for a seed and shuffles differently per seed", () => {
  const known = manyEndpoints(30);
  const order = (seed: number) =>
    buildDigests(known, keyOf(1), new Random(seed), 100).map((d) => d.address.host);
  deepEqual(order(5), order(5));
  notDeepEqual(order(5), order(6));
});

Deno.test("buildDigests() sends only the others when the local endpoint is unknown", () => {
  const known = manyEndpoints(3);
  const digests = buildDigests(known, keyOf(99), new Random(1), 100);
  equal(digests.length, 3);
  ok(digests.every((d) => d.address.host !== addressOf(99).host));
});

// --- the byte bound -----------------------------------------------------------------------------

/** `n` endpoints, each with a few large states (≈ 3 KB serialized). */
function largeEndpoints(n: number, generation: number): View {
  const view: View = new Map();
  for (let i = 1; i <= n; i++) {
    const r = new EndpointStateRecord(generation, 1);
    r.set(ApplicationState.TOKENS, { value: "t".repeat(1000 + i), version: 2 });
    r.set(ApplicationState.SCHEMA, { value: "s".repeat(1000), version: 3 });
    r.set(ApplicationState.HOST_ID, { value: "h".repeat(1000), version: 4 });
    view.set(keyOf(i), { address: addressOf(i), record: r });
  }
  return view;
}

function assertWithin(entries: readonly EndpointStateEntry[], maxStateBytes: number, version = 12) {
  ok(entries.length > 0, "something fits");
  const bytes = entryBytes(entries, version);
  ok(bytes <= maxStateBytes, `${bytes} bytes of state > ${maxStateBytes}`);
  const ack2 = serializePayload(gossipDigestAck2Serializer, { endpointStates: entries }, version);
  ok(ack2.length <= maxStateBytes, `an ACK2 of ${ack2.length} bytes > ${maxStateBytes}`);
}

Deno.test("examineDigests() never returns more than maxStateBytes of state", () => {
  for (const version of [11, 12]) {
    const known = largeEndpoints(60, 10);
    const syn = [...known.values()].map((e) => ({
      address: e.address,
      generation: 9,
      maxVersion: 0,
    }));
    for (const maxStateBytes of [3100, 10_000, 65_536]) {
      const { states } = examineDigests(syn, known, maxStateBytes, version);
      assertWithin(states, maxStateBytes, version);
      ok(states.length < 60, "some states are left out");
    }
  }
});

Deno.test("statesForDigests() and allStates() never return more than maxStateBytes of state", () => {
  const known = largeEndpoints(60, 10);
  const requests = [...known.values()].map((e) => ({
    address: e.address,
    generation: 10,
    maxVersion: 0,
  }));
  for (const maxStateBytes of [3100, 10_000, 65_536]) {
    const fromRequests = statesForDigests(requests, known, maxStateBytes, VERSION);
    assertWithin(fromRequests, maxStateBytes);
    ok(fromRequests.length < 60);
    const all = allStates(known, maxStateBytes, VERSION);
    assertWithin(all, maxStateBytes);
    ok(all.length < 60);
  }
});

Deno.test("allStates() includes an entry that fits the budget to the byte", () => {
  const known = largeEndpoints(1, 10);
  const full = allStates(known, UNLIMITED_BYTES, VERSION);
  const exact = 4 + entryBytes(full); // the ACK2's entry count, then the entry
  equal(allStates(known, exact, VERSION).length, 1);
  equal(allStates(known, exact - 1, VERSION).length, 0);
});

Deno.test("allStates() skips a state too large for the budget and keeps the ones that fit", () => {
  const known = largeEndpoints(3, 10);
  const huge = new EndpointStateRecord(10, 1);
  huge.set(ApplicationState.TOKENS, { value: "x".repeat(20_000), version: 2 });
  const withHugeFirst: View = new Map([[keyOf(50), { address: addressOf(50), record: huge }]]);
  for (const [key, endpoint] of known) withHugeFirst.set(key, endpoint);
  const entries = allStates(withHugeFirst, 10_000, VERSION);
  deepEqual(entries.map((e) => e.address), [addressOf(1), addressOf(2), addressOf(3)]);
});

Deno.test("examineDigests() sends what it left out when the peer asks again", () => {
  const source = largeEndpoints(40, 10);
  // The peer knows every endpoint at an older generation.
  const peer: View = new Map();
  for (const [key, endpoint] of source) {
    peer.set(key, { address: endpoint.address, record: record(9, 1) });
  }
  const maxStateBytes = 10_000;
  let rounds = 0;
  for (; rounds < 100; rounds++) {
    const syn = [...peer.values()].map((e) => ({
      address: e.address,
      generation: e.record.generation,
      maxVersion: e.record.maxVersion,
    }));
    const { states, requests } = examineDigests(syn, source, maxStateBytes, VERSION);
    deepEqual(requests, []);
    if (states.length === 0) break;
    ok(entryBytes(states) <= maxStateBytes);
    apply(peer, states);
  }
  ok(rounds > 1, "the states did not fit in one ACK");
  for (const [key, endpoint] of source) {
    deepEqual(peer.get(key)?.record.newerThan(-1), endpoint.record.newerThan(-1), key);
  }
});

Deno.test("statesForDigests() sends what it left out when the peer asks again", () => {
  const source = largeEndpoints(40, 10);
  const peer: View = new Map(); // knows nothing: asks for everything source gossips about
  const random = new Random(7);
  const maxStateBytes = 10_000;
  let rounds = 0;
  for (; rounds < 100; rounds++) {
    const syn = buildDigests(source, keyOf(1), random, 1000);
    const ack = examineDigests(syn, peer, maxStateBytes, VERSION);
    deepEqual(ack.states, []);
    if (ack.requests.length === 0) break;
    const ack2 = statesForDigests(ack.requests, source, maxStateBytes, VERSION);
    ok(ack2.length > 0 && entryBytes(ack2) <= maxStateBytes);
    apply(peer, ack2);
  }
  ok(rounds > 1, "the states did not fit in one ACK2");
  equal(peer.size, source.size);
  for (const [key, endpoint] of source) {
    deepEqual(peer.get(key)?.record.newerThan(-1), endpoint.record.newerThan(-1), key);
  }
});

// --- convergence properties ---------------------------------------------------------------------

const ENDPOINTS = 6;

/** An independent random record: generation, heartbeat and states all drawn at random. */
const randomRecord = fc.record({
  generation: fc.integer({ min: 1, max: 3 }),
  heartbeat: fc.integer({ min: 1, max: 20 }),
  states: fc.uniqueArray(
    fc.record({
      ordinal: fc.integer({ min: 1, max: 17 }),
      version: fc.integer({ min: 1, max: 20 }),
      value: fc.string({ maxLength: 8 }),
    }),
    { selector: (s) => s.ordinal, maxLength: 5 },
  ),
}).map(({ generation, heartbeat, states }) => {
  const r = new EndpointStateRecord(generation, heartbeat);
  for (const { ordinal, version, value } of states) r.set(ordinal, { value, version });
  return r;
});

/** A view: some of the endpoints 0..ENDPOINTS-1, always including `local`. */
function randomView(local: number) {
  return fc.array(fc.option(randomRecord, { nil: undefined }), {
    minLength: ENDPOINTS,
    maxLength: ENDPOINTS,
  }).map((records) => {
    const view: View = new Map();
    records.forEach((r, i) => {
      if (r === undefined && i !== local) return;
      view.set(keyOf(i), { address: addressOf(i), record: r ?? new EndpointStateRecord(1, 1) });
    });
    return view;
  });
}

function versionOf(view: View, key: string): [number, number] | undefined {
  const r = view.get(key)?.record;
  return r === undefined ? undefined : [r.generation, r.maxVersion];
}

function later(a: [number, number] | undefined, b: [number, number] | undefined) {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1]) ? a : b;
}

Deno.test("a SYN/ACK/ACK2 exchange each way leaves both sides at the max (generation, version)", () => {
  fc.assert(
    fc.property(randomView(0), randomView(1), fc.nat(), (x, y, seed) => {
      const keys = new Set([...x.keys(), ...y.keys()]);
      const expected = new Map([...keys].map((k) => [k, later(versionOf(x, k), versionOf(y, k))]));
      const random = new Random(seed);
      const listedByX = [...x.keys()];
      gossipRound(x, keyOf(0), y, random, UNLIMITED_BYTES);
      // One round settles every endpoint the initiator's SYN listed, whichever side was ahead.
      for (const key of listedByX) {
        deepEqual(versionOf(x, key), expected.get(key), `after x → y, x's view of ${key}`);
        deepEqual(versionOf(y, key), expected.get(key), `after x → y, y's view of ${key}`);
      }
      gossipRound(y, keyOf(1), x, random, UNLIMITED_BYTES);
      for (const key of keys) {
        deepEqual(versionOf(x, key), expected.get(key), `x's view of ${key}`);
        deepEqual(versionOf(y, key), expected.get(key), `y's view of ${key}`);
      }
    }),
  );
});

/** One change of an endpoint within a generation: a heartbeat bump or a state set. */
type Change = { readonly ordinal: number; readonly value: string } | undefined;

/**
 * Views drawn from one history per endpoint, as in a real cluster: each generation of an endpoint
 * is a sequence of changes (versions 2, 3, ...), and a view knows one generation up to some point.
 */
const history: fc.Arbitrary<Change[][]> = fc.array(
  fc.array(
    fc.oneof(
      fc.constant(undefined),
      fc.record({ ordinal: fc.integer({ min: 1, max: 17 }), value: fc.string({ maxLength: 60 }) }),
    ),
    { maxLength: 12 },
  ),
  { minLength: 1, maxLength: 3 },
);

/** The record of generation `generationIndex + 1` after its first `known` changes. */
function recordFrom(changes: Change[][], generationIndex: number, known: number) {
  const r = new EndpointStateRecord(generationIndex + 1, 1);
  (changes[generationIndex] ?? []).slice(0, known).forEach((change, i) => {
    if (change === undefined) r.heartbeatVersion = i + 2;
    else r.set(change.ordinal, { value: change.value, version: i + 2 });
  });
  return r;
}

Deno.test("gossip rounds under a small byte bound converge to the same states", () => {
  const knowledge = fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined });
  fc.assert(
    fc.property(
      fc.array(fc.record({ changes: history, x: knowledge, y: knowledge }), {
        minLength: 2,
        maxLength: ENDPOINTS,
      }),
      fc.nat(),
      (endpoints, seed) => {
        const x: View = new Map();
        const y: View = new Map();
        endpoints.forEach(({ changes, x: xKnows, y: yKnows }, i) => {
          const place = (view: View, knows: [number, number] | undefined, itself: boolean) => {
            const latest = changes.length - 1;
            // Each node knows itself fully, at its latest generation.
            const r = itself
              ? recordFrom(changes, latest, Infinity)
              : knows === undefined
              ? undefined
              : recordFrom(
                changes,
                knows[0] % changes.length,
                knows[1] % ((changes[knows[0] % changes.length]?.length ?? 0) + 1),
              );
            if (r !== undefined) view.set(keyOf(i), { address: addressOf(i), record: r });
          };
          place(x, xKnows, i === 0);
          place(y, yKnows, i === 1);
        });
        // Small enough to split most exchanges, large enough for any one endpoint's state.
        const largest = Math.max(
          ...[...x.values(), ...y.values()].map((e) =>
            entryBytes([{ address: e.address, state: e.record.newerThan(-1)! }])
          ),
        );
        const maxStateBytes = 4 + largest;
        const random = new Random(seed);
        for (let round = 0; round < 2 * endpoints.length + 2; round++) {
          const there = gossipRound(x, keyOf(0), y, random, maxStateBytes);
          const back = gossipRound(y, keyOf(1), x, random, maxStateBytes);
          for (const bytes of [there.ackBytes, there.ack2Bytes, back.ackBytes, back.ack2Bytes]) {
            ok(bytes <= maxStateBytes);
          }
        }
        deepEqual(new Set(x.keys()), new Set(y.keys()));
        for (const [key, endpoint] of x) {
          deepEqual(y.get(key)?.record.newerThan(-1), endpoint.record.newerThan(-1), key);
        }
      },
    ),
  );
});
