/**
 * The injected clock: wall time, monotonic time and cancellable timers (STYLE.md rule 4).
 *
 * Nothing outside this file reads `Date.now`, `performance.now` or calls `setTimeout`; every
 * module takes a {@linkcode Clock} instead. Production uses {@linkcode SystemClock}; tests and the
 * simulator use {@linkcode ManualClock}, whose time moves only when the test says so and which
 * never waits for real time.
 *
 * Wall time ({@linkcode Clock.nowMs}) is for timestamps that leave the process (message
 * creation time, write timestamps) and may jump. Monotonic time ({@linkcode Clock.monotonicNs})
 * is for measuring intervals (latency, the failure detector's heartbeat gaps) and timers follow
 * it, so a wall clock jump never fires or delays a timer.
 *
 * There is deliberately no `setInterval`: {@linkcode setRepeatingTimer} re-arms after each run
 * (fixed delay), so a slow callback can never pile up runs behind itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 *
 * const clock = new ManualClock({ startMs: 1_700_000_000_000 });
 * const fired: string[] = [];
 * clock.setTimer(() => fired.push("later"), 20);
 * const soon = clock.setTimer(() => fired.push("cancelled"), 5);
 * clock.setTimer(() => fired.push("sooner"), 10);
 * soon.cancel();
 *
 * clock.advance(25);
 * assert.deepEqual(fired, ["sooner", "later"]);
 * assert.equal(clock.nowMs(), 1_700_000_000_025);
 * assert.equal(clock.monotonicNs(), 25_000_000);
 *
 * const slept = clock.sleep(100);
 * clock.advance(100);
 * await slept; // resolves without any real waiting
 * ```
 *
 * @module
 */

import { setImmediate } from "node:timers/promises";

/** A scheduled callback; `cancel()` is idempotent and a no-op once the callback has run. */
export interface Timer {
  /** Stops the callback from running, if it has not run yet. */
  cancel(): void;
}

/** Source of time and timers; inject it, never read the platform clock directly. */
export interface Clock {
  /** Wall clock time in integer milliseconds since the Unix epoch; may jump. */
  nowMs(): number;
  /** Monotonic time in integer nanoseconds from an arbitrary origin; only differences matter. */
  monotonicNs(): number;
  /** Runs `callback` once after `delayMs` (finite, >= 0) of monotonic time. */
  setTimer(callback: () => void, delayMs: number): Timer;
  /** Resolves after `delayMs`; rejects with `signal.reason` (and frees the timer) on abort. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
}

/** Options of {@linkcode SystemClock}. */
export interface SystemClockOptions {
  /** When true, pending timers do not keep the process alive (`Deno.unrefTimer`). */
  unrefTimers?: boolean;
}

/** Options of {@linkcode ManualClock}. */
export interface ManualClockOptions {
  /** Initial wall clock time, integer epoch ms; default {@linkcode MANUAL_CLOCK_START_MS}. */
  startMs?: number;
  /** Most timers that may run at one instant before `advance()` fails (a runaway loop guard). */
  timersPerInstantMax?: number;
}

/** Default start of a {@linkcode ManualClock}: 2023-11-14T22:13:20Z, fixed so tests agree. */
export const MANUAL_CLOCK_START_MS = 1_700_000_000_000;

/** Default of {@linkcode ManualClockOptions.timersPerInstantMax}. */
export const TIMERS_PER_INSTANT_MAX_DEFAULT = 100_000;

// setTimeout stores its delay in a signed 32-bit integer; longer delays are armed in steps.
const PLATFORM_TIMER_DELAY_MS_MAX = 2 ** 31 - 1;
const NS_PER_MS = 1_000_000;

function checkDelay(action: string, delayMs: number): void {
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new RangeError(`Cannot ${action}: delayMs must be finite and >= 0, got ${delayMs}`);
  }
}

function sleepOn(clock: Clock, delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  checkDelay("sleep", delayMs);
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(signal?.reason);
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `callback` every `intervalMs`, measured from the end of the previous run (fixed delay).
 *
 * If `callback` throws, the repetition stops and the error propagates like any timer error.
 */
export function setRepeatingTimer(clock: Clock, callback: () => void, intervalMs: number): Timer {
  checkDelay("set repeating timer", intervalMs);
  let cancelled = false;
  let current: Timer;
  const run = () => {
    callback();
    // The callback may have cancelled its own repetition.
    if (!cancelled) current = clock.setTimer(run, intervalMs);
  };
  current = clock.setTimer(run, intervalMs);
  return {
    cancel() {
      cancelled = true;
      current.cancel();
    },
  };
}

/** Real time: `Date.now`, `performance.now` and `setTimeout`. */
export class SystemClock implements Clock {
  readonly #unrefTimers: boolean;

  /** Creates a clock on the platform's time sources. */
  constructor(options: SystemClockOptions = {}) {
    this.#unrefTimers = options.unrefTimers ?? false;
  }

  /** Wall clock time in integer epoch milliseconds. */
  nowMs(): number {
    return Date.now();
  }

  /** `performance.now()` in nanoseconds, rounded; exact integers for ~104 days of uptime. */
  monotonicNs(): number {
    return Math.round(performance.now() * NS_PER_MS);
  }

  /** Runs `callback` once after `delayMs`, however long. */
  setTimer(callback: () => void, delayMs: number): Timer {
    checkDelay("set timer", delayMs);
    let id: ReturnType<typeof setTimeout> | undefined;
    const arm = (remainingMs: number) => {
      const stepMs = Math.min(remainingMs, PLATFORM_TIMER_DELAY_MS_MAX);
      id = setTimeout(() => {
        if (stepMs < remainingMs) arm(remainingMs - stepMs);
        else callback();
      }, stepMs);
      if (this.#unrefTimers) Deno.unrefTimer(id);
    };
    arm(delayMs);
    return { cancel: () => clearTimeout(id) };
  }

  /** Resolves after `delayMs` of real time, or rejects when `signal` aborts. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, delayMs, signal);
  }
}

interface ManualTimer {
  readonly dueNs: number;
  readonly seq: number;
  readonly callback: () => void;
  pending: boolean;
}

function runsBefore(a: ManualTimer, b: ManualTimer): boolean {
  return a.dueNs < b.dueNs || (a.dueNs === b.dueNs && a.seq < b.seq);
}

/** Binary min-heap on (due time, scheduling order); cancelled entries are dropped lazily. */
class TimerQueue {
  #heap: ManualTimer[] = [];
  #live = 0;

  get live(): number {
    return this.#live;
  }

  push(timer: ManualTimer): void {
    this.#heap.push(timer);
    this.#live++;
    this.#siftUp(this.#heap.length - 1);
  }

  /** The earliest pending timer, without removing it. */
  peek(): ManualTimer | undefined {
    this.#dropCancelledHead();
    return this.#heap[0];
  }

  /** Removes and returns the earliest pending timer. */
  pop(): ManualTimer | undefined {
    this.#dropCancelledHead();
    const head = this.#heap[0];
    if (head === undefined) return undefined;
    this.#removeHead();
    head.pending = false;
    this.#live--;
    return head;
  }

  cancel(timer: ManualTimer): void {
    if (!timer.pending) return;
    timer.pending = false;
    this.#live--;
    // Many short timeouts are cancelled long before they fall due; rebuild so they do not pile up.
    if (this.#heap.length > 64 && this.#live < this.#heap.length / 2) this.#rebuild();
  }

  #dropCancelledHead(): void {
    while (this.#heap[0] !== undefined && !this.#heap[0].pending) this.#removeHead();
  }

  #removeHead(): void {
    const last = this.#heap.pop();
    if (last === undefined || this.#heap.length === 0) return;
    this.#heap[0] = last;
    this.#siftDown(0);
  }

  #rebuild(): void {
    this.#heap = this.#heap.filter((timer) => timer.pending);
    for (let i = (this.#heap.length >>> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const timer = heap[index] as ManualTimer;
    while (index > 0) {
      const parentIndex = (index - 1) >>> 1;
      const parent = heap[parentIndex] as ManualTimer;
      if (!runsBefore(timer, parent)) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = timer;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const timer = heap[index] as ManualTimer;
    for (;;) {
      let childIndex = 2 * index + 1;
      if (childIndex >= heap.length) break;
      const right = heap[childIndex + 1];
      if (right !== undefined && runsBefore(right, heap[childIndex] as ManualTimer)) childIndex++;
      const child = heap[childIndex] as ManualTimer;
      if (!runsBefore(child, timer)) break;
      heap[index] = child;
      index = childIndex;
    }
    heap[index] = timer;
  }
}

/**
 * A clock that moves only when told to, for unit tests and the deterministic simulator.
 *
 * Timers fire inside {@linkcode ManualClock.advance}, in due-time order, ties in scheduling order.
 * A timer callback that throws stops the advance at that timer's due time and the error
 * propagates to the caller of `advance()`. Monotonic time starts at 0 ns; integer nanoseconds
 * stay exact for about 104 simulated days.
 */
export class ManualClock implements Clock {
  readonly #timers = new TimerQueue();
  readonly #timersPerInstantMax: number;
  #elapsedNs = 0;
  #wallOffsetMs: number;
  #seq = 0;
  #advancing = false;

  /** Creates a clock at `options.startMs` (default {@linkcode MANUAL_CLOCK_START_MS}). */
  constructor(options: ManualClockOptions = {}) {
    const startMs = options.startMs ?? MANUAL_CLOCK_START_MS;
    if (!Number.isSafeInteger(startMs)) {
      throw new RangeError(`Cannot create clock: startMs must be an integer, got ${startMs}`);
    }
    const timersPerInstantMax = options.timersPerInstantMax ?? TIMERS_PER_INSTANT_MAX_DEFAULT;
    if (!Number.isSafeInteger(timersPerInstantMax) || timersPerInstantMax < 1) {
      throw new RangeError(
        `Cannot create clock: timersPerInstantMax must be an integer >= 1, got ${timersPerInstantMax}`,
      );
    }
    this.#wallOffsetMs = startMs;
    this.#timersPerInstantMax = timersPerInstantMax;
  }

  /** Wall clock time in integer epoch milliseconds. */
  nowMs(): number {
    return this.#wallOffsetMs + Math.floor(this.#elapsedNs / NS_PER_MS);
  }

  /** Nanoseconds advanced since construction. */
  monotonicNs(): number {
    return this.#elapsedNs;
  }

  /** Number of timers scheduled and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.#timers.live;
  }

  /** Milliseconds until the earliest pending timer falls due, or undefined when none is. */
  nextTimerDelayMs(): number | undefined {
    const next = this.#timers.peek();
    return next === undefined ? undefined : (next.dueNs - this.#elapsedNs) / NS_PER_MS;
  }

  /** Jumps the wall clock to `epochMs` (like an NTP step); monotonic time and timers ignore it. */
  setNowMs(epochMs: number): void {
    if (!Number.isSafeInteger(epochMs)) {
      throw new RangeError(`Cannot set wall clock: epochMs must be an integer, got ${epochMs}`);
    }
    this.#wallOffsetMs = epochMs - Math.floor(this.#elapsedNs / NS_PER_MS);
  }

  /** Schedules `callback` to run when the clock has advanced `delayMs` from now. */
  setTimer(callback: () => void, delayMs: number): Timer {
    checkDelay("set timer", delayMs);
    const timer: ManualTimer = {
      dueNs: this.#elapsedNs + Math.round(delayMs * NS_PER_MS),
      seq: this.#seq++,
      callback,
      pending: true,
    };
    this.#timers.push(timer);
    return { cancel: () => this.#timers.cancel(timer) };
  }

  /** Resolves once the clock is advanced `delayMs` past now (after `advance()` returns). */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, delayMs, signal);
  }

  /**
   * Moves time forward `ms`, running every timer that falls due on the way, in order, including
   * timers that those callbacks schedule within the window.
   *
   * Promise continuations (code after `await clock.sleep()`) run only after this returns; use
   * {@linkcode ManualClock.advanceAsync} when async code must react between timers.
   */
  advance(ms: number): void {
    for (const timer of this.#dueTimers(ms)) timer.callback();
  }

  /**
   * Like {@linkcode ManualClock.advance}, but yields to the event loop before and after each
   * timer so that promise continuations (and the timers they schedule) run at the simulated
   * instant. The yield is one turn of the event loop (`setImmediate`): it waits for no real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    await yieldToEventLoop();
    for (const timer of this.#dueTimers(ms)) {
      timer.callback();
      await yieldToEventLoop();
    }
  }

  /** Takes each timer due within `ms` off the queue, moving time to it; then moves to the end. */
  *#dueTimers(ms: number): Generator<ManualTimer, void, undefined> {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`Cannot advance: ms must be finite and >= 0, got ${ms}`);
    }
    // Re-entrant advances would run timers out of order.
    if (this.#advancing) throw new Error("Cannot advance: the clock is already advancing");
    const targetNs = this.#elapsedNs + Math.round(ms * NS_PER_MS);
    if (!Number.isSafeInteger(targetNs)) {
      throw new RangeError("Cannot advance: monotonic time would pass 2^53 ns");
    }
    this.#advancing = true;
    try {
      let runsAtInstant = 0;
      for (
        let next = this.#timers.peek();
        next && next.dueNs <= targetNs;
        next = this.#timers.peek()
      ) {
        runsAtInstant = next.dueNs === this.#elapsedNs ? runsAtInstant + 1 : 1;
        if (runsAtInstant > this.#timersPerInstantMax) {
          throw new Error(
            `Cannot advance: more than ${this.#timersPerInstantMax} timers ran at one instant ` +
              "(a callback keeps re-arming itself with delay 0?)",
          );
        }
        this.#timers.pop();
        this.#elapsedNs = next.dueNs;
        yield next;
      }
      this.#elapsedNs = targetNs;
    } finally {
      // Also runs when a callback throws: the for-of in the caller closes this generator.
      this.#advancing = false;
    }
  }
}

// setImmediate, not setTimeout(0): nested zero-delay timeouts are clamped to milliseconds.
function yieldToEventLoop(): Promise<void> {
  return setImmediate();
}
