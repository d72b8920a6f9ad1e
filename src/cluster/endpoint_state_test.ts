import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { ApplicationState, type EndpointState } from "../wire/gossip_payloads.ts";
import { EndpointStateRecord, HIGHEST_VERSION, VersionGenerator } from "./endpoint_state.ts";

Deno.test("VersionGenerator.next() is strictly increasing from 1", () => {
  const versions = new VersionGenerator();
  let previous = versions.next();
  equal(previous, 1);
  for (let i = 0; i < 10_000; i++) {
    const next = versions.next();
    equal(next, previous + 1);
    previous = next;
  }
});

Deno.test("VersionGenerator instances count independently", () => {
  const a = new VersionGenerator();
  const b = new VersionGenerator();
  a.next();
  a.next();
  equal(b.next(), 1);
  equal(a.next(), 3);
});

Deno.test("EndpointStateRecord.maxVersion is the heartbeat version when no state is set", () => {
  equal(new EndpointStateRecord(10, 7).maxVersion, 7);
  equal(new EndpointStateRecord(10, -1).maxVersion, -1);
  equal(new EndpointStateRecord(10, HIGHEST_VERSION).maxVersion, HIGHEST_VERSION);
});

Deno.test("EndpointStateRecord.maxVersion is the highest of the heartbeat and every state", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 1000 })), {
        maxLength: 12,
      }),
      (heartbeat, sets) => {
        const record = new EndpointStateRecord(1, heartbeat);
        for (const [ordinal, version] of sets) record.set(ordinal, { value: "v", version });
        const expected = Math.max(heartbeat, ...sets.map(([, version]) => version));
        equal(record.maxVersion, expected);
      },
    ),
  );
});

Deno.test("EndpointStateRecord.maxVersion follows a heartbeat bumped after states were set", () => {
  const record = new EndpointStateRecord(10, 1);
  record.set(ApplicationState.DC, { value: "dc1", version: 5 });
  equal(record.maxVersion, 5);
  record.heartbeatVersion = 9;
  equal(record.maxVersion, 9);
});

Deno.test("EndpointStateRecord.newerThan() always carries the heartbeat", () => {
  const record = new EndpointStateRecord(10, 3);
  record.set(ApplicationState.DC, { value: "dc1", version: 5 });
  // Only the state is newer than 4, yet the heartbeat (version 3) rides along.
  deepEqual(record.newerThan(4), {
    heartbeat: { generation: 10, version: 3 },
    applicationStates: new Map([[ApplicationState.DC, { value: "dc1", version: 5 }]]),
  });
});

Deno.test("EndpointStateRecord.newerThan() returns the heartbeat alone when only it is newer", () => {
  const record = new EndpointStateRecord(10, 9);
  record.set(ApplicationState.DC, { value: "dc1", version: 5 });
  deepEqual(record.newerThan(5), {
    heartbeat: { generation: 10, version: 9 },
    applicationStates: new Map(),
  });
});

Deno.test("EndpointStateRecord.newerThan() returns undefined when nothing is newer", () => {
  const record = new EndpointStateRecord(10, 4);
  record.set(ApplicationState.DC, { value: "dc1", version: 6 });
  equal(record.newerThan(6), undefined);
  equal(record.newerThan(100), undefined);
  equal(new EndpointStateRecord(10, 4).newerThan(4), undefined);
});

Deno.test("EndpointStateRecord.newerThan() carries only the states above the version", () => {
  const record = new EndpointStateRecord(10, 1);
  record.set(ApplicationState.DC, { value: "dc1", version: 2 });
  record.set(ApplicationState.RACK, { value: "rack1", version: 3 });
  record.set(ApplicationState.HOST_ID, { value: "h", version: 4 });
  record.set(ApplicationState.TOKENS, { value: "t", version: 5 });
  const state = record.newerThan(3);
  ok(state !== undefined);
  deepEqual(
    state.applicationStates,
    new Map([
      [ApplicationState.HOST_ID, { value: "h", version: 4 }],
      [ApplicationState.TOKENS, { value: "t", version: 5 }],
    ]),
  );
  equal(record.newerThan(-1)?.applicationStates.size, 4, "-1 means everything");
});

Deno.test("EndpointStateRecord.newerThan() matches a filter of the states (property)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 50 })), {
        selector: ([ordinal]) => ordinal,
        maxLength: 10,
      }),
      fc.integer({ min: -1, max: 55 }),
      (heartbeat, sets, above) => {
        const record = new EndpointStateRecord(7, heartbeat);
        for (const [ordinal, version] of sets) {
          record.set(ordinal, { value: `v${version}`, version });
        }
        const newer = sets.filter(([, version]) => version > above);
        const state = record.newerThan(above);
        if (heartbeat <= above && newer.length === 0) {
          equal(state, undefined);
          return;
        }
        ok(state !== undefined);
        deepEqual(state.heartbeat, { generation: 7, version: heartbeat });
        deepEqual(
          [...state.applicationStates].sort(([a], [b]) => a - b),
          newer.map(([ordinal, version]) => [ordinal, { value: `v${version}`, version }])
            .sort(([a], [b]) => (a as number) - (b as number)),
        );
      },
    ),
  );
});

Deno.test("EndpointStateRecord.newerThan() returns a snapshot not aliased to later sets", () => {
  const record = new EndpointStateRecord(10, 1);
  record.set(ApplicationState.DC, { value: "dc1", version: 2 });
  const before = record.newerThan(0);
  record.set(ApplicationState.RACK, { value: "r1", version: 3 });
  record.heartbeatVersion = 4;
  deepEqual(before, {
    heartbeat: { generation: 10, version: 1 },
    applicationStates: new Map([[ApplicationState.DC, { value: "dc1", version: 2 }]]),
  });
});

Deno.test("EndpointStateRecord.status is parsed when STATUS_WITH_PORT (ordinal 17) is set", () => {
  equal(ApplicationState.STATUS_WITH_PORT, 17);
  const record = new EndpointStateRecord(10, 1);
  equal(record.status, undefined);
  record.set(ApplicationState.DC, { value: "NORMAL,5", version: 2 });
  equal(record.status, undefined, "another ordinal holding a status-like value is not a status");
  record.set(17, { value: "BOOT,-3", version: 3 });
  deepEqual(record.status, { kind: "BOOT", token: -3n });
  record.set(17, { value: "NORMAL,-3", version: 4 });
  deepEqual(record.status, { kind: "NORMAL", token: -3n });
  record.set(17, { value: "FUTURE,1", version: 5 });
  deepEqual(record.status, { kind: "unknown", value: "FUTURE,1" });
  equal(record.value(17), "FUTURE,1");
});

Deno.test("EndpointStateRecord.value() returns a state's value or undefined", () => {
  const record = new EndpointStateRecord(10, 1);
  record.set(ApplicationState.RACK, { value: "r1", version: 2 });
  equal(record.value(ApplicationState.RACK), "r1");
  equal(record.value(ApplicationState.DC), undefined);
});

Deno.test("EndpointStateRecord starts not alive, with updatedAtMs 0", () => {
  const record = new EndpointStateRecord(10, 1);
  equal(record.alive, false);
  equal(record.updatedAtMs, 0);
});

Deno.test("EndpointStateRecord.fromWire() holds exactly the wire state", () => {
  const wire: EndpointState = {
    heartbeat: { generation: 1_700_000_000, version: 12 },
    applicationStates: new Map([
      [ApplicationState.DC, { value: "dc1", version: 3 }],
      [ApplicationState.STATUS_WITH_PORT, { value: "LEFT,9,1000", version: 14 }],
      [99, { value: "from a newer release", version: 7 }], // unknown ordinals pass through
    ]),
  };
  const record = EndpointStateRecord.fromWire(wire);
  equal(record.generation, 1_700_000_000);
  equal(record.heartbeatVersion, 12);
  equal(record.maxVersion, 14);
  deepEqual(record.states, wire.applicationStates);
  deepEqual(record.status, { kind: "LEFT", token: 9n, expireAtMs: 1000 });
  deepEqual(record.newerThan(-1), wire);
  equal(record.alive, false);
});

Deno.test("EndpointStateRecord.fromWire() of a heartbeat-only state has no status", () => {
  const record = EndpointStateRecord.fromWire({
    heartbeat: { generation: 5, version: 2 },
    applicationStates: new Map(),
  });
  equal(record.states.size, 0);
  equal(record.status, undefined);
  equal(record.maxVersion, 2);
});
