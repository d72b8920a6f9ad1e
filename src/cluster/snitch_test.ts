import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  DEFAULT_DATACENTER,
  DEFAULT_RACK,
  type GossipedLocation,
  GossipingSnitch,
  isValidLocationName,
  type Snitch,
  sortByProximity,
} from "./snitch.ts";

function snitchOf(
  states: Record<string, GossipedLocation>,
  options: { datacenter?: string; rack?: string; localNodeKey?: string } = {},
): GossipingSnitch {
  return new GossipingSnitch({ ...options, lookup: (key) => states[key] });
}

Deno.test("GossipingSnitch reads peers' gossiped DC and RACK, defaulting to dc1 and rack1", () => {
  const snitch = snitchOf(
    { p1: { dc: "eu-west", rack: "az.1" }, p2: { dc: "us_east" }, p3: { rack: "r9" } },
    { datacenter: "eu-west", rack: "az.2" },
  );
  equal(snitch.localDatacenter, "eu-west");
  equal(snitch.localRack, "az.2");
  equal(snitch.datacenterOf("p1"), "eu-west");
  equal(snitch.rackOf("p1"), "az.1");
  equal(snitch.datacenterOf("p2"), "us_east");
  equal(snitch.rackOf("p2"), DEFAULT_RACK, "rack not gossiped yet");
  equal(snitch.datacenterOf("p3"), DEFAULT_DATACENTER, "dc not gossiped yet");
  equal(snitch.rackOf("unknown"), "rack1");
  equal(snitch.datacenterOf("unknown"), "dc1");
  equal(snitch.invalidNameCount, 0);
});

Deno.test("GossipingSnitch places the local node from configuration, defaults included", () => {
  const configured = snitchOf({ me: { dc: "stale", rack: "stale" } }, {
    datacenter: "dc2",
    rack: "r2",
    localNodeKey: "me",
  });
  equal(configured.datacenterOf("me"), "dc2");
  equal(configured.rackOf("me"), "r2");
  const defaults = snitchOf({});
  equal(defaults.localDatacenter, "dc1");
  equal(defaults.localRack, "rack1");
});

Deno.test("GossipingSnitch refuses invalid configured names", () => {
  const bad = ["", "a b", "dc/1", "dc:1", "é", "x".repeat(65), "dc1\n"];
  for (const name of bad) {
    for (const options of [{ datacenter: name }, { rack: name }]) {
      throws(
        () => snitchOf({}, options),
        (error: unknown) =>
          error instanceof RangeError && error.message.startsWith("Cannot create snitch:"),
        JSON.stringify(options),
      );
    }
  }
  equal(snitchOf({}, { datacenter: "x".repeat(64), rack: "A-z_0.9" }).localRack, "A-z_0.9");
});

Deno.test("GossipingSnitch counts a peer's invalid name and uses the default instead", () => {
  const snitch = snitchOf({ p1: { dc: "", rack: "has space" }, p2: { dc: "x".repeat(65) } });
  equal(snitch.datacenterOf("p1"), "dc1");
  equal(snitch.rackOf("p1"), "rack1");
  equal(snitch.datacenterOf("p2"), "dc1");
  equal(snitch.invalidNameCount, 3);
});

Deno.test("isValidLocationName() accepts 1 to 64 of [A-Za-z0-9_.-] and nothing else", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (name) => {
      const expected = name.length >= 1 && name.length <= 64 && /^[A-Za-z0-9_.-]*$/.test(name);
      equal(isValidLocationName(name), expected);
    }),
  );
});

Deno.test("sortByProximity() puts the local rack first, then the local datacenter, stably", () => {
  const snitch = snitchOf(
    {
      far1: { dc: "dc2", rack: "r1" }, // same rack name, other datacenter: still far
      near1: { dc: "dc1", rack: "r1" },
      mid1: { dc: "dc1", rack: "r2" },
      far2: { dc: "dc3", rack: "r1" },
      near2: { dc: "dc1", rack: "r1" },
      mid2: { dc: "dc1", rack: "r3" },
    },
    { datacenter: "dc1", rack: "r1", localNodeKey: "me" },
  );
  const nodes = ["far1", "near1", "mid1", "me", "far2", "near2", "mid2", "unknown"];
  // "unknown" defaults to dc1/rack1: local datacenter, another rack.
  deepEqual(snitch.sortByProximity(nodes), [
    "near1",
    "me",
    "near2",
    "mid1",
    "mid2",
    "unknown",
    "far1",
    "far2",
  ]);
  deepEqual(nodes[0], "far1", "the input is not reordered");
  ok(snitch.compareByProximity("near1", "mid1") < 0);
  ok(snitch.compareByProximity("far1", "mid1") > 0);
  equal(snitch.compareByProximity("near1", "near2"), 0);
});

Deno.test("sortByProximity() works with any Snitch and looks each node up once", () => {
  const lookups: string[] = [];
  const snitch: Snitch = {
    localDatacenter: "a",
    localRack: "x",
    datacenterOf: (key) => {
      lookups.push(key);
      return key.startsWith("a") ? "a" : "b";
    },
    rackOf: (key) => key.endsWith("x") ? "x" : "y",
  };
  deepEqual(sortByProximity(snitch, ["by", "ay", "ax", "bx"]), ["ax", "ay", "by", "bx"]);
  deepEqual(lookups.toSorted(), ["ax", "ay", "bx", "by"]);
  deepEqual(sortByProximity(snitch, []), []);
});
