import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import type { EndpointStateEntry } from "../wire/gossip_payloads.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { ShadowRound, UnableToGossipError } from "./shadow_round.ts";

const SEEDS: InetAddressAndPort[] = [
  { host: "10.0.0.1", port: 7000 },
  { host: "10.0.0.2", port: 7001 },
  { host: "::1", port: 7000 },
];

const STATES: EndpointStateEntry[] = [{
  address: { host: "10.0.0.1", port: 7000 },
  state: { heartbeat: { generation: 10, version: 3 }, applicationStates: new Map() },
}];

/** A round over SEEDS on a manual clock, recording each send as `host@ms`. */
function setup(failOnTimeout: boolean, resendMs = 5000, timeoutMs = 30_000) {
  const clock = new ManualClock();
  const sent: string[] = [];
  const round = new ShadowRound({
    clock,
    seeds: SEEDS,
    resendMs,
    timeoutMs,
    failOnTimeout,
    send: (seed) => sent.push(`${seed.host}@${clock.monotonicNs() / 1e6}`),
  });
  return { clock, sent, round };
}

/** Whether `promise` has settled, after letting pending reactions run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}

Deno.test("ShadowRound.run() sends to every seed at once", async () => {
  const { clock, sent, round } = setup(true);
  const done = round.run();
  deepEqual(sent, ["10.0.0.1@0", "10.0.0.2@0", "::1@0"]);
  round.cancel();
  await done;
  equal(clock.pendingTimers, 0);
});

Deno.test("ShadowRound.run() resends to every seed every resendMs until answered", async () => {
  const { clock, sent, round } = setup(true);
  const done = round.run();
  clock.advance(4999);
  equal(sent.length, 3, "no resend before resendMs");
  clock.advance(1);
  deepEqual(sent.slice(3), ["10.0.0.1@5000", "10.0.0.2@5000", "::1@5000"]);
  clock.advance(10_000);
  deepEqual(sent.slice(6), [
    "10.0.0.1@10000",
    "10.0.0.2@10000",
    "::1@10000",
    "10.0.0.1@15000",
    "10.0.0.2@15000",
    "::1@15000",
  ]);
  round.answered([]);
  await done;
  clock.advance(60_000);
  equal(sent.length, 12, "no send after the answer");
  equal(clock.pendingTimers, 0);
});

Deno.test("ShadowRound.run() resolves with the answer's states when answered", async () => {
  const { clock, round } = setup(true);
  deepEqual(round.states, []);
  const done = round.run();
  clock.advance(7000);
  ok(!(await settled(done)), "waiting for an answer");
  round.answered(STATES);
  await done;
  equal(round.states, STATES);
  equal(clock.pendingTimers, 0, "the resend and deadline timers are cancelled");
});

Deno.test("ShadowRound.answered() keeps the first answer's states", async () => {
  const { round } = setup(true);
  const done = round.run();
  round.answered(STATES);
  round.answered([]);
  await done;
  equal(round.states, STATES);
});

Deno.test("ShadowRound.answered() is ignored before run()", async () => {
  const { clock, round } = setup(true);
  round.answered(STATES);
  deepEqual(round.states, []);
  const done = round.run();
  ok(!(await settled(done)), "the early answer did not end the round");
  round.cancel();
  await done;
  equal(clock.pendingTimers, 0);
});

Deno.test("ShadowRound.run() resolves quietly at the timeout when failOnTimeout is false", async () => {
  const { clock, sent, round } = setup(false);
  const done = round.run();
  clock.advance(29_999);
  ok(!(await settled(done)));
  clock.advance(1);
  await done;
  deepEqual(round.states, [], "a seed may be the first node: no states");
  equal(sent.length, 3 * 6, "sends at 0, 5, 10, 15, 20 and 25 s");
  equal(clock.pendingTimers, 0);
});

Deno.test("ShadowRound.run() rejects with UnableToGossipError naming the seeds when failOnTimeout is true", async () => {
  const { clock, round } = setup(true, 5000, 60_000);
  const done = round.run();
  clock.advance(59_999);
  ok(!(await settled(done)));
  clock.advance(1);
  await rejects(done, (error: unknown) => {
    ok(error instanceof UnableToGossipError);
    equal(error.name, "UnableToGossipError");
    ok(error.message.startsWith("Cannot join: "), error.message);
    for (const seed of ["10.0.0.1:7000", "10.0.0.2:7001", "::1"]) {
      ok(error.message.includes(seed), `${error.message} names ${seed}`);
    }
    ok(error.message.includes("60000 ms"), error.message);
    return true;
  });
  equal(clock.pendingTimers, 0);
});

Deno.test("ShadowRound.answered() after the timeout changes nothing", async () => {
  const { clock, round } = setup(false);
  const done = round.run();
  clock.advance(30_000);
  await done;
  round.answered(STATES);
  deepEqual(round.states, []);
});

Deno.test("ShadowRound.cancel() resolves the round and stops sending", async () => {
  const { clock, sent, round } = setup(true);
  const done = round.run();
  clock.advance(5000);
  round.cancel();
  await done;
  clock.advance(120_000);
  equal(sent.length, 6);
  equal(clock.pendingTimers, 0, "no timer left: not even the deadline that would reject");
  round.cancel(); // idempotent
});

Deno.test("ShadowRound.cancel() before run() does not end a later run", async () => {
  const { clock, round } = setup(false);
  round.cancel();
  const done = round.run();
  ok(!(await settled(done)));
  clock.advance(30_000);
  await done;
  equal(clock.pendingTimers, 0);
});

Deno.test("ShadowRound.run() with no seeds sends nothing and still times out", async () => {
  const clock = new ManualClock();
  const sent: InetAddressAndPort[] = [];
  const round = new ShadowRound({
    clock,
    seeds: [],
    resendMs: 1000,
    timeoutMs: 3000,
    failOnTimeout: true,
    send: (seed) => sent.push(seed),
  });
  const done = round.run();
  clock.advance(3000);
  await rejects(done, UnableToGossipError);
  deepEqual(sent, []);
  equal(clock.pendingTimers, 0);
});
