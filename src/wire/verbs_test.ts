import { deepEqual, equal, ok, throws } from "node:assert/strict";
import type { Mutation } from "./data_payloads.ts";
import { decodeMessage, encodeMessage } from "./message_codec.ts";
import { rawBytesSerializer, RequestFailureReason } from "./payload_serializers.ts";
import { Uuid } from "./uuid.ts";
import type { Verb } from "./verb.ts";
import {
  CORE_VERBS,
  createVerbRegistry,
  FAILURE_RSP,
  MAX_CUSTOM_VERBS,
  MUTATION_REQ,
  VerbRegistry,
} from "./verbs.ts";

/**
 * GOLDEN LIST of core verb wire ids. APPEND-ONLY: a verb id is part of the wire protocol.
 * Never edit or remove an entry; a new verb is added by appending a new line at the end.
 * If this test fails because an entry no longer matches, the code is wrong, not this list.
 */
const GOLDEN_VERB_IDS: readonly (readonly [string, number])[] = Object.freeze([
  ["MUTATION_REQ", 0],
  ["MUTATION_RSP", 60],
  ["HINT_REQ", 1],
  ["HINT_RSP", 61],
  ["READ_REPAIR_REQ", 2],
  ["READ_REPAIR_RSP", 62],
  ["READ_REQ", 3],
  ["READ_RSP", 63],
  ["GOSSIP_DIGEST_SYN", 14],
  ["GOSSIP_DIGEST_ACK", 15],
  ["GOSSIP_DIGEST_ACK2", 16],
  ["SCHEMA_PUSH_REQ", 18],
  ["SCHEMA_PUSH_RSP", 98],
  ["SCHEMA_PULL_REQ", 28],
  ["SCHEMA_PULL_RSP", 88],
  ["GOSSIP_SHUTDOWN", 29],
  ["ECHO_REQ", 31],
  ["ECHO_RSP", 91],
  ["PING_REQ", 37],
  ["PING_RSP", 97],
  ["FAILURE_RSP", 99],
  ["REPAIR_RSP", 100],
  ["VALIDATION_REQ", 101],
  ["VALIDATION_RSP", 102],
  ["SYNC_REQ", 103],
  ["SYNC_RSP", 104],
].map((entry) => Object.freeze(entry) as readonly [string, number]));

Deno.test("core verbs keep every golden [name, id] pair (append-only)", () => {
  const verbs = createVerbRegistry();
  for (const [name, id] of GOLDEN_VERB_IDS) {
    equal(verbs.byId(id)?.name, name, `id ${id} must stay ${name}`);
    equal(verbs.byName(name)?.id, id, `${name} must keep id ${id}`);
  }
});

Deno.test("every core verb is in the golden list (append new verbs to it)", () => {
  const golden = new Map(GOLDEN_VERB_IDS);
  for (const verb of Object.values(CORE_VERBS) as Verb[]) {
    equal(
      golden.get(verb.name),
      verb.id,
      `${verb.name} (${verb.id}) is missing from the golden list`,
    );
  }
  equal(new Set(GOLDEN_VERB_IDS.map(([, id]) => id)).size, GOLDEN_VERB_IDS.length);
  equal(new Set(GOLDEN_VERB_IDS.map(([name]) => name)).size, GOLDEN_VERB_IDS.length);
});

Deno.test("core verbs match PROTOCOL.md §8: response ids, priorities and timeouts", () => {
  // name, response id, priority, timeout ms
  const table: Array<[string, number | undefined, number, number | undefined]> = [
    ["MUTATION_REQ", 60, 3, 2000],
    ["MUTATION_RSP", undefined, 1, 2000],
    ["HINT_REQ", 61, 4, 2000],
    ["HINT_RSP", undefined, 1, 2000],
    ["READ_REPAIR_REQ", 62, 1, 2000],
    ["READ_REPAIR_RSP", undefined, 1, 2000],
    ["READ_REQ", 63, 3, 5000],
    ["READ_RSP", undefined, 2, 5000],
    ["GOSSIP_DIGEST_SYN", undefined, 0, 300000],
    ["GOSSIP_DIGEST_ACK", undefined, 0, 300000],
    ["GOSSIP_DIGEST_ACK2", undefined, 0, 300000],
    ["SCHEMA_PUSH_REQ", 98, 1, 10000],
    ["SCHEMA_PUSH_RSP", undefined, 1, 10000],
    ["SCHEMA_PULL_REQ", 88, 1, 10000],
    ["SCHEMA_PULL_RSP", undefined, 1, 10000],
    ["GOSSIP_SHUTDOWN", undefined, 0, 10000],
    ["ECHO_REQ", 91, 0, 10000],
    ["ECHO_RSP", undefined, 0, 10000],
    ["PING_REQ", 97, 1, 10000],
    ["PING_RSP", undefined, 1, 10000],
    ["FAILURE_RSP", undefined, 0, undefined],
    ["REPAIR_RSP", undefined, 1, 10000],
    ["VALIDATION_REQ", 100, 1, 10000],
    ["VALIDATION_RSP", 100, 1, 10000],
    ["SYNC_REQ", 100, 1, 10000],
    ["SYNC_RSP", 100, 1, 10000],
  ];
  const verbs = createVerbRegistry();
  equal(verbs.all().length, table.length);
  for (const [name, responseVerbId, priority, timeoutMs] of table) {
    const verb = verbs.byName(name);
    ok(verb, name);
    deepEqual(
      { responseVerbId: verb.responseVerbId, priority: verb.priority, timeoutMs: verb.timeoutMs },
      { responseVerbId, priority, timeoutMs },
      name,
    );
  }
});

Deno.test("every core response verb id names a registered verb", () => {
  const verbs = createVerbRegistry();
  for (const verb of verbs.all()) {
    if (verb.responseVerbId !== undefined) ok(verbs.byId(verb.responseVerbId), verb.name);
  }
});

Deno.test("VerbRegistry.all() lists verbs by increasing id", () => {
  const verbs = createVerbRegistry();
  verbs.registerCustom("APP_A", 1, 1000, rawBytesSerializer);
  verbs.register({ ...MUTATION_REQ, name: "STREAM_INIT", id: 128, responseVerbId: undefined });
  const ids = verbs.all().map((v) => v.id);
  deepEqual(ids, [...ids].sort((a, b) => a - b));
  equal(ids.at(0), 0);
  equal(ids.at(-1), 16383);
});

Deno.test("VerbRegistry.byId() returns undefined for unknown ids", () => {
  const verbs = createVerbRegistry();
  for (const id of [4, 127, 128, 16383, 16384, -1, 1.5, 2 ** 40]) equal(verbs.byId(id), undefined);
});

Deno.test("createVerbRegistry() returns independent registries", () => {
  const a = createVerbRegistry();
  const b = createVerbRegistry();
  a.registerCustom("APP_A", 1, 1000, rawBytesSerializer);
  equal(b.byName("APP_A"), undefined);
  equal(b.registerCustom("APP_B", 1, 1000, rawBytesSerializer).id, 16383);
});

Deno.test("registerCustom() allocates ids down from 16383, at most 1000", () => {
  const verbs = createVerbRegistry();
  equal(verbs.registerCustom("APP_0", 1, 1000, rawBytesSerializer).id, 16383);
  equal(verbs.registerCustom("APP_1", 2, 1000, rawBytesSerializer, 16383).id, 16382);
  equal(verbs.byId(16382)?.responseVerbId, 16383);
  for (let i = 2; i < MAX_CUSTOM_VERBS; i++) {
    verbs.registerCustom(`APP_${i}`, 1, 1000, rawBytesSerializer);
  }
  equal(verbs.byName(`APP_${MAX_CUSTOM_VERBS - 1}`)?.id, 16383 - 999);
  throws(
    () => verbs.registerCustom("APP_X", 1, 1000, rawBytesSerializer),
    /custom verb ids are taken/,
  );
  equal(verbs.byName("APP_X"), undefined);
});

Deno.test("registerCustom() rejects duplicate names without using up an id", () => {
  const verbs = createVerbRegistry();
  verbs.registerCustom("APP_A", 1, 1000, rawBytesSerializer);
  throws(() => verbs.registerCustom("APP_A", 1, 1000, rawBytesSerializer), /name is taken/);
  throws(() => verbs.registerCustom("MUTATION_REQ", 1, 1000, rawBytesSerializer), /name is taken/);
  throws(() => verbs.registerCustom("bad name", 1, 1000, rawBytesSerializer), /upper-case/);
  throws(() => verbs.registerCustom("APP_T", 1, 0, rawBytesSerializer), /timeout/);
  throws(() => verbs.registerCustom("APP_P", 5 as 0, 10, rawBytesSerializer), /priority/);
  equal(verbs.registerCustom("APP_B", 1, 1000, rawBytesSerializer).id, 16382);
});

Deno.test("register() rejects duplicates, reserved ids and out-of-range ids", () => {
  const verbs = createVerbRegistry();
  const own = { ...MUTATION_REQ, name: "STREAM_INIT", id: 128, responseVerbId: undefined };
  equal(verbs.register(own), own);
  throws(() => verbs.register({ ...own, name: "STREAM_OTHER" }), /id 128 is STREAM_INIT's/);
  throws(() => verbs.register({ ...own, id: 129 }), /name is taken/);
  throws(() => verbs.register(MUTATION_REQ), /id 0 is MUTATION_REQ's/);
  // A look-alike of a core verb is not the core verb.
  throws(() => new VerbRegistry().register({ ...MUTATION_REQ }), /reserved for core verbs/);
  throws(() => verbs.register({ ...own, name: "LOW", id: 127 }), /reserved for core verbs/);
  throws(() => verbs.register({ ...own, name: "HIGH", id: 16383 }), /registerCustom/);
  throws(() => verbs.register({ ...own, name: "HUGE", id: 16384 }), /not in 0..16383/);
  throws(() => verbs.register({ ...own, name: "ODD", id: 130.5 }), /not in 0..16383/);
});

Deno.test("core verbs carry their payloads through the message codec at both versions", () => {
  const verbs = createVerbRegistry();
  const mutation: Mutation = {
    tableId: Uuid.parse("00000000-0000-4000-8000-000000000001"),
    key: Uint8Array.of(1),
    timestampMicros: 42n,
    tombstone: false,
    contentType: "application/octet-stream",
    value: Uint8Array.of(1, 2, 3),
  };
  const nowMs = 1_700_000_000_000;
  for (const version of [11, 12]) {
    for (
      const [verb, payload] of [[MUTATION_REQ, mutation], [
        FAILURE_RSP,
        RequestFailureReason.INCOMPATIBLE_SCHEMA,
      ]] as [Verb, unknown][]
    ) {
      const message = {
        id: 7,
        verb,
        createdAtMs: nowMs,
        expiresAtMs: nowMs + (verb.timeoutMs ?? 10_000),
        flags: 0,
        params: undefined,
        payload,
      };
      const bytes = encodeMessage(message, version, { from: { host: "127.0.0.1", port: 7000 } });
      const back = decodeMessage(bytes, 0, bytes.length, version, { verbs, nowMs });
      equal(back.verb, verb);
      deepEqual(back.payload, payload);
    }
  }
});

Deno.test("core verbs are frozen", () => {
  ok(Object.isFrozen(CORE_VERBS));
  for (const verb of Object.values(CORE_VERBS) as Verb[]) ok(Object.isFrozen(verb), verb.name);
});
