import { deepEqual, equal, ok } from "node:assert/strict";
import { Stage } from "./stage.ts";

Deno.test("a stage runs tasks in submission order", async () => {
  const stage = new Stage("mutation", { capacityMessages: 100, concurrency: 4 });
  const order: number[] = [];
  for (let i = 0; i < 50; i++) stage.submit(() => void order.push(i));
  await stage.close();
  deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
  equal(stage.completed, 50);
});

Deno.test("submit() refuses beyond the capacity and counts the refusal", async () => {
  const stage = new Stage("read", { capacityMessages: 3, concurrency: 1 });
  const results = Array.from({ length: 5 }, () => stage.submit(() => {}));
  deepEqual(results, [true, true, true, false, false]);
  equal(stage.rejected, 2);
  await stage.close();
});

Deno.test("asynchronous tasks are limited by the stage's concurrency", async () => {
  const stage = new Stage("mutation", { capacityMessages: 100, concurrency: 2 });
  let running = 0;
  let peak = 0;
  for (let i = 0; i < 10; i++) {
    stage.submit(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      await Promise.resolve();
      running--;
    });
  }
  await stage.close();
  equal(peak, 2);
  equal(stage.completed, 10);
});

Deno.test("a stalled stage does not hold up another stage", async () => {
  const slow = new Stage("mutation", { capacityMessages: 10, concurrency: 1 });
  const gossip = new Stage("gossip", { capacityMessages: 10, concurrency: 1 });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  slow.submit(() => gate);
  slow.submit(() => {});
  let gossiped = false;
  gossip.submit(() => void (gossiped = true));
  await gossip.close();
  ok(gossiped);
  equal(slow.queued, 1, "the slow stage's second task still waits");
  release();
  await slow.close();
  equal(slow.completed, 2);
});

Deno.test("task errors go to onError and the stage goes on", async () => {
  const errors: unknown[] = [];
  const stage = new Stage("misc", {
    capacityMessages: 10,
    concurrency: 2,
    onError: (e) => errors.push(e),
  });
  let after = false;
  stage.submit(() => {
    throw new Error("sync boom");
  });
  stage.submit(() => Promise.reject(new Error("async boom")));
  stage.submit(() => void (after = true));
  await stage.close();
  equal(errors.length, 2);
  ok(after);
});

Deno.test("a long run of synchronous tasks yields to the event loop", async () => {
  const stage = new Stage("mutation", { capacityMessages: 10_000, concurrency: 1, batchSize: 100 });
  let ranBeforeTimer = 0;
  let count = 0;
  for (let i = 0; i < 1000; i++) stage.submit(() => void count++);
  // An I/O-like macrotask queued now must run before all 1000 tasks have finished.
  const macrotask = new Promise<void>((resolve) =>
    import("node:timers").then(({ setImmediate }) =>
      setImmediate(() => {
        ranBeforeTimer = count;
        resolve();
      })
    )
  );
  await macrotask;
  await stage.close();
  ok(ranBeforeTimer < 1000, `the stage ran ${ranBeforeTimer} tasks before yielding`);
  equal(count, 1000);
});
