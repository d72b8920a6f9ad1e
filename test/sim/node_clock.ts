/**
 * One simulated process's view of the shared {@link ManualClock}: the same time, but its timers
 * can be frozen (an event-loop stall: they fire late, all at once, when it resumes) or dropped
 * for good (a crash: nothing the dead process scheduled ever runs again).
 *
 * @module
 */

import type { Clock, ManualClock, Timer } from "../../src/clock.ts";

interface HeldTimer {
  readonly callback: () => void;
  cancelled: boolean;
}

/** A process's clock over a shared manual clock, with stall and crash controls. */
export class NodeClock implements Clock {
  readonly #base: ManualClock;
  #paused = false;
  #killed = false;
  #held: HeldTimer[] = [];

  constructor(base: ManualClock) {
    this.#base = base;
  }

  /** Whether the process is stalled. */
  get paused(): boolean {
    return this.#paused;
  }

  nowMs(): number {
    return this.#base.nowMs();
  }

  monotonicNs(): number {
    return this.#base.monotonicNs();
  }

  setTimer(callback: () => void, delayMs: number): Timer {
    const held: HeldTimer = { callback, cancelled: false };
    if (this.#killed) return { cancel: () => {} };
    const timer = this.#base.setTimer(() => {
      if (held.cancelled || this.#killed) return;
      if (this.#paused) this.#held.push(held);
      else callback();
    }, delayMs);
    return {
      cancel: () => {
        held.cancelled = true;
        timer.cancel();
      },
    };
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        timer.cancel();
        reject(signal?.reason);
      };
      const timer = this.setTimer(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, delayMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Stalls the process: timers that fall due are held. */
  pause(): void {
    this.#paused = true;
  }

  /** Ends a stall: every held timer runs now, in the order it fell due. */
  resume(): void {
    this.#paused = false;
    const held = this.#held;
    this.#held = [];
    for (const timer of held) if (!timer.cancelled && !this.#killed) timer.callback();
  }

  /** The process died: no timer of it runs again. */
  kill(): void {
    this.#killed = true;
    this.#held = [];
  }
}
