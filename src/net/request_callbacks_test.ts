import { deepEqual, equal, ok } from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { RequestCallbacks } from "./request_callbacks.ts";

function recorder() {
  const events: string[] = [];
  const callback = (name: string) => ({
    onResponse: (r: unknown) => events.push(`${name}:response:${r}`),
    onFailure: (e: Error) => events.push(`${name}:${e.name}`),
  });
  return { events, callback };
}

Deno.test("a request times out within one resolution step after its expiry", () => {
  const clock = new ManualClock();
  const callbacks = new RequestCallbacks(clock, 10);
  const { events, callback } = recorder();
  callbacks.add(1, "peer", clock.nowMs() + 95, callback("a"));
  clock.advance(94);
  deepEqual(events, []);
  clock.advance(16);
  deepEqual(events, ["a:RequestTimeoutError"]);
  equal(callbacks.size, 0);
  equal(clock.pendingTimers, 0, "no timer runs once nothing is pending");
});

Deno.test("take() returns the callback once and stops its timeout", () => {
  const clock = new ManualClock();
  const callbacks = new RequestCallbacks(clock, 10);
  const { events, callback } = recorder();
  callbacks.add(1, "peer-a", clock.nowMs() + 50, callback("a"));
  callbacks.add(1, "peer-b", clock.nowMs() + 50, callback("b"));
  callbacks.take(1, "peer-a")?.onResponse("ok");
  equal(callbacks.take(1, "peer-a"), undefined);
  clock.advance(100);
  deepEqual(events, ["a:response:ok", "b:RequestTimeoutError"]);
});

Deno.test("requests expire in order across a long clock jump", () => {
  const clock = new ManualClock();
  const callbacks = new RequestCallbacks(clock, 10);
  const { events, callback } = recorder();
  for (let i = 0; i < 5; i++) {
    callbacks.add(i, "p", clock.nowMs() + 1000 * (i + 1), callback(`${i}`));
  }
  clock.advance(86_400_000);
  equal(events.length, 5);
  ok(events.every((e) => e.endsWith("RequestTimeoutError")));
});

Deno.test("close() fails every pending request and refuses new ones", () => {
  const clock = new ManualClock();
  const callbacks = new RequestCallbacks(clock, 10);
  const { events, callback } = recorder();
  callbacks.add(1, "p", clock.nowMs() + 50, callback("a"));
  callbacks.close();
  callbacks.add(2, "p", clock.nowMs() + 50, callback("b"));
  deepEqual(events, ["a:ServiceClosedError", "b:ServiceClosedError"]);
  equal(clock.pendingTimers, 0);
});
