import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type Clock,
  MANUAL_CLOCK_START_MS,
  ManualClock,
  setRepeatingTimer,
  SystemClock,
} from "./clock.ts";

Deno.test("ManualClock starts at the fixed default epoch with monotonic time 0", () => {
  const clock = new ManualClock();
  assert.equal(clock.nowMs(), MANUAL_CLOCK_START_MS);
  assert.equal(clock.monotonicNs(), 0);
  assert.equal(new ManualClock({ startMs: 5 }).nowMs(), 5);
});

Deno.test("ManualClock() throws RangeError on invalid options", () => {
  assert.throws(() => new ManualClock({ startMs: 1.5 }), RangeError);
  assert.throws(() => new ManualClock({ startMs: Number.NaN }), RangeError);
  assert.throws(() => new ManualClock({ timersPerInstantMax: 0 }), RangeError);
});

Deno.test("advance() runs due timers in time order", () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  for (const delayMs of [30, 10, 20]) clock.setTimer(() => fired.push(delayMs), delayMs);
  clock.advance(30);
  assert.deepEqual(fired, [10, 20, 30]);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("advance() runs timers due at the same time in scheduling order", () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  for (const name of ["a", "b", "c", "d"]) clock.setTimer(() => fired.push(name), 7);
  clock.advance(7);
  assert.deepEqual(fired, ["a", "b", "c", "d"]);
});

Deno.test("advance() leaves timers due after the window pending", () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  clock.setTimer(() => fired.push(1), 10);
  clock.setTimer(() => fired.push(2), 11);
  clock.advance(10);
  assert.deepEqual(fired, [1]);
  assert.equal(clock.pendingTimers, 1);
  assert.equal(clock.nowMs(), MANUAL_CLOCK_START_MS + 10);
  clock.advance(1);
  assert.deepEqual(fired, [1, 2]);
});

Deno.test("advance() runs timers scheduled by callbacks within the window, in order", () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  clock.setTimer(() => {
    fired.push("a@10");
    clock.setTimer(() => fired.push("c@15"), 5);
    clock.setTimer(() => fired.push("b@10"), 0);
    clock.setTimer(() => fired.push("e@40"), 30);
  }, 10);
  clock.setTimer(() => fired.push("d@20"), 20);
  clock.advance(30);
  assert.deepEqual(fired, ["a@10", "b@10", "c@15", "d@20"]);
  assert.equal(clock.pendingTimers, 1);
  clock.advance(10);
  assert.deepEqual(fired.at(-1), "e@40");
});

Deno.test("advance() shows each timer its own due time", () => {
  const clock = new ManualClock({ startMs: 1_000 });
  const seen: [number, number][] = [];
  const record = () => seen.push([clock.nowMs(), clock.monotonicNs()]);
  clock.setTimer(record, 2.5);
  clock.setTimer(record, 4);
  clock.advance(10);
  assert.deepEqual(seen, [[1_002, 2_500_000], [1_004, 4_000_000]]);
  assert.equal(clock.nowMs(), 1_010);
  assert.equal(clock.monotonicNs(), 10_000_000);
});

Deno.test("advance() fires timers in (due time, scheduling order) for any schedule", () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat({ max: 50 }), { maxLength: 40 }),
      fc.array(fc.nat({ max: 40 }), { maxLength: 10 }),
      fc.nat({ max: 60 }),
      (delays, cancelIndexes, windowMs) => {
        const clock = new ManualClock();
        const fired: number[] = [];
        const timers = delays.map((delayMs, i) => clock.setTimer(() => fired.push(i), delayMs));
        const cancelled = new Set(cancelIndexes.filter((i) => i < delays.length));
        for (const i of cancelled) timers[i]?.cancel();
        clock.advance(windowMs);
        const expected = delays
          .map((delayMs, i) => ({ delayMs, i }))
          .filter(({ delayMs, i }) => delayMs <= windowMs && !cancelled.has(i))
          .sort((a, b) => a.delayMs - b.delayMs || a.i - b.i)
          .map(({ i }) => i);
        assert.deepEqual(fired, expected);
        const stillPending = delays.filter((d, i) => d > windowMs && !cancelled.has(i)).length;
        assert.equal(clock.pendingTimers, stillPending);
      },
    ),
  );
});

Deno.test("cancel() prevents a timer from running and is idempotent", () => {
  const clock = new ManualClock();
  let runs = 0;
  const timer = clock.setTimer(() => runs++, 5);
  clock.setTimer(() => runs += 10, 5);
  timer.cancel();
  timer.cancel();
  assert.equal(clock.pendingTimers, 1);
  clock.advance(100);
  assert.equal(runs, 10);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("cancel() after the timer ran changes nothing", () => {
  const clock = new ManualClock();
  const timer = clock.setTimer(() => {}, 1);
  clock.setTimer(() => {}, 2);
  clock.advance(1);
  timer.cancel();
  assert.equal(clock.pendingTimers, 1);
});

Deno.test("cancel() from an earlier timer stops a later one due in the same advance", () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  const later = clock.setTimer(() => fired.push("later"), 20);
  clock.setTimer(() => {
    fired.push("first");
    later.cancel();
  }, 10);
  clock.advance(30);
  assert.deepEqual(fired, ["first"]);
});

Deno.test("cancel() of many timers keeps order and counts right", () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  const timers = Array.from({ length: 500 }, (_, i) => clock.setTimer(() => fired.push(i), i));
  for (let i = 0; i < 500; i++) if (i % 5 !== 0) timers[i]?.cancel();
  assert.equal(clock.pendingTimers, 100);
  clock.advance(1_000);
  assert.deepEqual(fired, Array.from({ length: 100 }, (_, i) => i * 5));
});

Deno.test("setTimer() throws RangeError on a negative or non-finite delay", () => {
  const clock = new ManualClock();
  for (const delayMs of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => clock.setTimer(() => {}, delayMs), RangeError);
  }
  assert.throws(() => clock.advance(-1), RangeError);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("nextTimerDelayMs() reports the earliest pending timer", () => {
  const clock = new ManualClock();
  assert.equal(clock.nextTimerDelayMs(), undefined);
  const first = clock.setTimer(() => {}, 30);
  clock.setTimer(() => {}, 50);
  clock.advance(10);
  assert.equal(clock.nextTimerDelayMs(), 20);
  first.cancel();
  assert.equal(clock.nextTimerDelayMs(), 40);
});

Deno.test("setNowMs() jumps wall time without moving monotonic time or firing timers", () => {
  const clock = new ManualClock({ startMs: 1_000 });
  let fired = false;
  clock.setTimer(() => fired = true, 10);
  clock.advance(4);
  clock.setNowMs(999_999);
  assert.equal(clock.nowMs(), 999_999);
  assert.equal(clock.monotonicNs(), 4_000_000);
  assert.equal(fired, false);
  clock.setNowMs(0);
  clock.advance(6);
  assert.equal(fired, true);
  assert.equal(clock.nowMs(), 6);
  assert.throws(() => clock.setNowMs(0.5), RangeError);
});

Deno.test("advance() stops at a throwing timer and propagates its error", () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  clock.setTimer(() => {
    throw new Error("boom");
  }, 10);
  clock.setTimer(() => fired.push(20), 20);
  assert.throws(() => clock.advance(30), { message: "boom" });
  assert.equal(clock.monotonicNs(), 10_000_000);
  assert.deepEqual(fired, []);
  clock.advance(20);
  assert.deepEqual(fired, [20]);
});

Deno.test("advance() fails loudly when timers keep re-arming at one instant", () => {
  const clock = new ManualClock({ timersPerInstantMax: 100 });
  let runs = 0;
  const rearm = () => {
    runs++;
    clock.setTimer(rearm, 0);
  };
  clock.setTimer(rearm, 1);
  assert.throws(() => clock.advance(5), /Cannot advance: more than 100 timers ran at one instant/);
  assert.equal(runs, 100);
});

Deno.test("advance() throws when called from inside a timer", () => {
  const clock = new ManualClock();
  let inner: unknown;
  clock.setTimer(() => {
    try {
      clock.advance(1);
    } catch (error) {
      inner = error;
    }
  }, 1);
  clock.advance(1);
  assert.match(String(inner), /Cannot advance: the clock is already advancing/);
});

Deno.test("sleep() resolves only once the clock is advanced past its delay", async () => {
  const clock = new ManualClock();
  let done = false;
  const slept = clock.sleep(50).then(() => done = true);
  clock.advance(49);
  await Promise.resolve();
  assert.equal(done, false);
  clock.advance(1);
  await slept;
  assert.equal(done, true);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("sleep() rejects with the abort reason and frees its timer", async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  const slept = clock.sleep(50, controller.signal);
  assert.equal(clock.pendingTimers, 1);
  controller.abort(new Error("stop"));
  await assert.rejects(slept, { message: "stop" });
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("sleep() rejects at once when the signal is already aborted", async () => {
  const clock = new ManualClock();
  const reason = new Error("already");
  await assert.rejects(clock.sleep(10, AbortSignal.abort(reason)), reason);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("sleep() ignores an abort after it resolved", async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  const slept = clock.sleep(1, controller.signal);
  clock.advance(1);
  await slept;
  controller.abort();
});

Deno.test("advanceAsync() lets async continuations schedule timers inside the window", async () => {
  const clock = new ManualClock({ startMs: 0 });
  const ticks: number[] = [];
  // A few async layers between the timer and the code that re-arms it.
  const pause = async (ms: number) => {
    await (async () => await clock.sleep(ms))();
  };
  const loop = (async () => {
    for (let i = 0; i < 5; i++) {
      await pause(100);
      ticks.push(clock.nowMs());
    }
  })();
  await clock.advanceAsync(350);
  assert.deepEqual(ticks, [100, 200, 300]);
  assert.equal(clock.nowMs(), 350);
  await clock.advanceAsync(150);
  await loop;
  assert.deepEqual(ticks, [100, 200, 300, 400, 500]);
});

Deno.test("advance() lets continuations run only after it returns", async () => {
  const clock = new ManualClock({ startMs: 0 });
  const ticks: number[] = [];
  const loop = (async () => {
    await clock.sleep(100);
    ticks.push(clock.nowMs());
    await clock.sleep(100);
    ticks.push(clock.nowMs());
  })();
  clock.advance(350);
  await clock.advanceAsync(0); // only lets pending continuations run
  assert.deepEqual(ticks, [350]);
  clock.advance(100);
  await loop;
  assert.deepEqual(ticks, [350, 450]);
});

Deno.test("setRepeatingTimer() runs every interval until cancelled", () => {
  const clock = new ManualClock({ startMs: 0 });
  const runsAtMs: number[] = [];
  const timer = setRepeatingTimer(clock, () => runsAtMs.push(clock.nowMs()), 10);
  clock.advance(35);
  assert.deepEqual(runsAtMs, [10, 20, 30]);
  timer.cancel();
  clock.advance(100);
  assert.deepEqual(runsAtMs, [10, 20, 30]);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("setRepeatingTimer() stops when its callback cancels it", () => {
  const clock = new ManualClock();
  let runs = 0;
  const timer = setRepeatingTimer(clock, () => {
    if (++runs === 2) timer.cancel();
  }, 5);
  clock.advance(100);
  assert.equal(runs, 2);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("setRepeatingTimer() stops repeating when its callback throws", () => {
  const clock = new ManualClock();
  setRepeatingTimer(clock, () => {
    throw new Error("tick failed");
  }, 5);
  assert.throws(() => clock.advance(5), { message: "tick failed" });
  assert.equal(clock.pendingTimers, 0);
});

function checkSystemTime(clock: Clock): void {
  const before = Date.now();
  const nowMs = clock.nowMs();
  assert.ok(Number.isInteger(nowMs));
  assert.ok(nowMs >= before && nowMs <= Date.now());
  const first = clock.monotonicNs();
  const second = clock.monotonicNs();
  assert.ok(Number.isInteger(first));
  assert.ok(second >= first);
}

Deno.test("SystemClock reads the platform's wall and monotonic time", () => {
  checkSystemTime(new SystemClock());
});

Deno.test("SystemClock.setTimer() fires after a real delay", async () => {
  const clock = new SystemClock();
  const startNs = clock.monotonicNs();
  const firedAtNs = await new Promise<number>((resolve) => {
    clock.setTimer(() => resolve(clock.monotonicNs()), 5);
  });
  // Timers never fire early; allow 1 ms for the platform rounding its clocks.
  assert.ok(firedAtNs - startNs >= 4_000_000, `fired after ${firedAtNs - startNs} ns`);
});

Deno.test("SystemClock cancel() prevents a real timer from firing", async () => {
  const clock = new SystemClock();
  let fired = false;
  const timer = clock.setTimer(() => fired = true, 5);
  timer.cancel();
  await clock.sleep(20);
  assert.equal(fired, false);
});

Deno.test("SystemClock.setTimer() accepts delays beyond setTimeout's 2^31-1 ms limit", async () => {
  const clock = new SystemClock();
  let fired = false;
  const timer = clock.setTimer(() => fired = true, 2 ** 31 + 10);
  await clock.sleep(5);
  timer.cancel();
  assert.equal(fired, false);
});

Deno.test("SystemClock.sleep() rejects with the abort reason", async () => {
  const clock = new SystemClock();
  const controller = new AbortController();
  const slept = clock.sleep(10_000, controller.signal);
  controller.abort(new Error("closing"));
  await assert.rejects(slept, { message: "closing" });
});

Deno.test("SystemClock with unrefTimers still fires its timers", async () => {
  const clock = new SystemClock({ unrefTimers: true });
  let fired = false;
  clock.setTimer(() => fired = true, 1);
  // A referenced sleep keeps the test alive while the unreferenced timer falls due.
  await new SystemClock().sleep(20);
  assert.equal(fired, true);
});
