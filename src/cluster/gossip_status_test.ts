import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import {
  formatStatus,
  type GossipStatus,
  isDeadStatus,
  isLeftStatus,
  parseStatus,
} from "./gossip_status.ts";

const MIN_TOKEN = -(1n << 63n);
const MAX_TOKEN = (1n << 63n) - 1n;

Deno.test("formatStatus() and parseStatus() round-trip every kind", () => {
  const statuses: GossipStatus[] = [
    { kind: "BOOT", token: 0n },
    { kind: "BOOT", token: -42n },
    { kind: "NORMAL", token: 1234567890123456789n },
    { kind: "NORMAL", token: MIN_TOKEN },
    { kind: "LEAVING", token: MAX_TOKEN },
    { kind: "LEFT", token: 42n, expireAtMs: 1_700_000_000_000 },
    { kind: "LEFT", token: MIN_TOKEN, expireAtMs: 0 },
    { kind: "LEFT", token: MAX_TOKEN, expireAtMs: Number.MAX_SAFE_INTEGER },
    { kind: "shutdown" },
    { kind: "removed", hostId: "6d9f6d1c-0a4f-4c6e-9b6e-0d5a0c1e2f3a", expireAtMs: 1 },
    { kind: "unknown", value: "HIBERNATE,true" },
    { kind: "unknown", value: "" },
  ];
  for (const status of statuses) {
    deepEqual(parseStatus(formatStatus(status)), status, formatStatus(status));
  }
});

Deno.test("formatStatus() writes Cassandra's comma-joined layout", () => {
  equal(formatStatus({ kind: "BOOT", token: -7n }), "BOOT,-7");
  equal(formatStatus({ kind: "NORMAL", token: 7n }), "NORMAL,7");
  equal(formatStatus({ kind: "LEAVING", token: 7n }), "LEAVING,7");
  equal(formatStatus({ kind: "LEFT", token: 7n, expireAtMs: 99 }), "LEFT,7,99");
  equal(formatStatus({ kind: "shutdown" }), "shutdown,true");
  equal(formatStatus({ kind: "removed", hostId: "h", expireAtMs: 5 }), "removed,h,5");
  equal(formatStatus({ kind: "unknown", value: "whatever,1" }), "whatever,1");
});

Deno.test("parseStatus() round-trips arbitrary 64-bit tokens and safe expiry times", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("BOOT" as const, "NORMAL" as const, "LEAVING" as const, "LEFT" as const),
      fc.bigInt({ min: MIN_TOKEN, max: MAX_TOKEN }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      (kind, token, expireAtMs) => {
        const status: GossipStatus = kind === "LEFT"
          ? { kind, token, expireAtMs }
          : { kind, token };
        deepEqual(parseStatus(formatStatus(status)), status);
      },
    ),
  );
});

Deno.test("parseStatus() returns unknown, never throws, when given arbitrary strings", () => {
  const kinds = ["BOOT", "NORMAL", "LEAVING", "LEFT", "shutdown", "removed", "HIBERNATE", ""];
  // Strings that start like a real status, so the parsers of every kind are exercised.
  const statusLike = fc.tuple(
    fc.constantFrom(...kinds),
    fc.array(fc.oneof(fc.string(), fc.bigInt().map(String), fc.integer().map(String)), {
      maxLength: 4,
    }),
  ).map(([kind, rest]) => [kind, ...rest].join(","));
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), statusLike), (value) => {
      const status = parseStatus(value);
      if (status.kind === "unknown") {
        equal(status.value, value, "an unknown status keeps the raw value");
      } else {
        // Whatever was understood re-formats to something that parses to the same status.
        deepEqual(parseStatus(formatStatus(status)), status);
      }
    }),
  );
});

Deno.test("parseStatus() returns unknown when the value is malformed", () => {
  const malformed = [
    "",
    "NORMAL",
    "NORMAL,",
    "NORMAL,abc",
    "NORMAL,1.5",
    "NORMAL,+1",
    "NORMAL, 1",
    "NORMAL,-",
    "NORMAL,1e3",
    "normal,1",
    "BOOT,0x10",
    "LEAVING,١٢٣", // Arabic-Indic digits are not decimal digits on the wire
    "LEFT,1",
    "LEFT,1,",
    "LEFT,1,-5",
    "LEFT,1,1.5",
    "LEFT,x,5",
    "LEFT,1,9007199254740992", // past Number.MAX_SAFE_INTEGER
    "removed",
    "removed,,5",
    "removed,host",
    "removed,host,soon",
    "HIBERNATE,true",
    "MOVING,5",
  ];
  for (const value of malformed) {
    deepEqual(parseStatus(value), { kind: "unknown", value }, value);
  }
});

Deno.test("parseStatus() returns unknown when the token is outside the signed 64-bit range", () => {
  for (const kind of ["BOOT", "NORMAL", "LEAVING"]) {
    for (const token of [MAX_TOKEN + 1n, MIN_TOKEN - 1n, 99999999999999999999n]) {
      const value = `${kind},${token}`;
      deepEqual(parseStatus(value), { kind: "unknown", value }, value);
    }
    deepEqual(parseStatus(`${kind},${MAX_TOKEN}`), { kind, token: MAX_TOKEN });
    deepEqual(parseStatus(`${kind},${MIN_TOKEN}`), { kind, token: MIN_TOKEN });
  }
  const left = `LEFT,${MAX_TOKEN + 1n},1000`;
  deepEqual(parseStatus(left), { kind: "unknown", value: left });
  const tooLong = `NORMAL,${"1".repeat(21)}`;
  deepEqual(parseStatus(tooLong), { kind: "unknown", value: tooLong });
});

Deno.test("parseStatus() ignores extra parts after a well-formed status", () => {
  deepEqual(parseStatus("NORMAL,5,extra"), { kind: "NORMAL", token: 5n });
  deepEqual(parseStatus("LEFT,5,10,extra"), { kind: "LEFT", token: 5n, expireAtMs: 10 });
  deepEqual(parseStatus("shutdown"), { kind: "shutdown" });
});

Deno.test("isDeadStatus() and isLeftStatus() classify each kind", () => {
  const table: Array<[GossipStatus | undefined, boolean, boolean]> = [
    // [status, dead, left]
    [undefined, false, false],
    [{ kind: "BOOT", token: 1n }, false, false],
    [{ kind: "NORMAL", token: 1n }, false, false],
    [{ kind: "LEAVING", token: 1n }, false, false],
    [{ kind: "LEFT", token: 1n, expireAtMs: 1 }, true, true],
    [{ kind: "shutdown" }, true, false],
    [{ kind: "removed", hostId: "h", expireAtMs: 1 }, true, true],
    [{ kind: "unknown", value: "LEFT,garbage" }, false, false],
  ];
  for (const [status, dead, left] of table) {
    const label = status === undefined ? "undefined" : status.kind;
    equal(isDeadStatus(status), dead, `isDeadStatus(${label})`);
    equal(isLeftStatus(status), left, `isLeftStatus(${label})`);
  }
});
