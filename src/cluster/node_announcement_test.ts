import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { ApplicationState } from "../wire/gossip_payloads.ts";
import { announcementStates, readAnnouncement } from "./node_announcement.ts";

const versioned = (states: Map<number, string>) =>
  new Map([...states].map(([ordinal, value]) => [ordinal, { value, version: 1 }]));

Deno.test("announcementStates() covers every state a node advertises, read back exactly", () => {
  const states = announcementStates({
    hostId: "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    dc: "eu-west",
    rack: "rack2",
    tokens: [-9n, 7n, 1000n],
    status: { kind: "BOOT", token: -9n },
    messagingVersion: 11,
    releaseVersion: "0.4.0",
    nativeAddress: { host: "10.0.0.7", port: 8080 },
    schemaVersion: "c0ffee00-0000-4000-8000-000000000000",
    loadBytes: 123456,
    severity: 0.5,
  });
  deepEqual([...states.keys()].sort((a, b) => a - b), [
    ApplicationState.LOAD,
    ApplicationState.SCHEMA,
    ApplicationState.DC,
    ApplicationState.RACK,
    ApplicationState.RELEASE_VERSION,
    ApplicationState.SEVERITY,
    ApplicationState.NET_VERSION,
    ApplicationState.HOST_ID,
    ApplicationState.TOKENS,
    ApplicationState.NATIVE_ADDRESS_AND_PORT,
    ApplicationState.STATUS_WITH_PORT,
  ]);
  equal(states.get(ApplicationState.STATUS_WITH_PORT), "BOOT,-9");
  deepEqual(readAnnouncement(versioned(states)), {
    hostId: "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    dc: "eu-west",
    rack: "rack2",
    tokens: [-9n, 7n, 1000n],
    status: { kind: "BOOT", token: -9n },
    messagingVersion: 11,
    releaseVersion: "0.4.0",
    nativeAddress: "10.0.0.7:8080",
    schemaVersion: "c0ffee00-0000-4000-8000-000000000000",
    loadBytes: 123456,
    severity: 0.5,
  });
});

Deno.test("readAnnouncement() leaves out malformed values and never throws", () => {
  const view = readAnnouncement(versioned(
    new Map([
      [ApplicationState.TOKENS, "1,1"],
      [ApplicationState.NET_VERSION, "twelve"],
      [ApplicationState.LOAD, ""],
      [ApplicationState.DC, "dc1"],
    ]),
  ));
  deepEqual(view, { dc: "dc1" });
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.string()), { maxLength: 20 }),
    (entries) => {
      readAnnouncement(versioned(new Map(entries)));
    },
  ));
});
