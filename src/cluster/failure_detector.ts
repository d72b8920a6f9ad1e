/**
 * Phi-accrual failure detection (PROTOCOL.md §10), as Cassandra's `FailureDetector`: per peer, a
 * window of the last heartbeat inter-arrival times; `phi = 0.4343 · (now − last) / mean` (the
 * exponential form); a peer is convicted when `phi > phiConvictThreshold`. A sans-I/O state
 * machine: time comes in as arguments, convictions go out as return values.
 *
 * Two guards: gaps longer than `maxIntervalMs` are not recorded (a peer that was away does
 * not teach the detector to be patient), and after a local pause (two `interpret` rounds more
 * than `maxLocalPauseMs` apart: our own GC or VM stall) nothing is convicted for that long,
 * because every peer would look silent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FailureDetector } from "./failure_detector.ts";
 * const detector = new FailureDetector();
 * for (let t = 0; t <= 60_000; t += 1000) detector.report("b", t);
 * // One interpret round per second after the last heartbeat at 60 s:
 * let convictedAtMs = 0;
 * for (let t = 61_000; convictedAtMs === 0; t += 1000) {
 *   if (detector.interpret("b", t)) convictedAtMs = t;
 * }
 * assert.equal(convictedAtMs, 79_000); // phi passes 8 at ≈ 18.4 s of silence
 * ```
 *
 * @module
 */

/** `1 / ln(10)`: turns `t / mean` into `-log10` of the exponential survival probability. */
export const PHI_FACTOR = 1 / Math.log(10);

/** Settings of a {@link FailureDetector}, with Cassandra's defaults. */
export interface FailureDetectorOptions {
  /** Convict when phi exceeds this [`phi_convict_threshold`]; default 8. */
  readonly phiConvictThreshold?: number;
  /** Inter-arrival times kept per peer; default 1000. */
  readonly windowSize?: number;
  /** Interval recorded at a peer's first heartbeat; default 2000 ms (2 gossip rounds). */
  readonly initialIntervalMs?: number;
  /** Longer gaps are not recorded; default 2000 ms. */
  readonly maxIntervalMs?: number;
  /** A gap between interpret rounds longer than this is a local pause; default 5000 ms. */
  readonly maxLocalPauseMs?: number;
}

/** The last `size` inter-arrival times of one peer, with their running sum. */
class ArrivalWindow {
  /** Grows by doubling up to the window size, so a peer heard from rarely costs little. */
  #intervals: Float64Array;
  readonly #sizeMax: number;
  #count = 0;
  #next = 0;
  #sum = 0;
  /** Time of the last heartbeat, ms. */
  lastMs: number;

  constructor(size: number, nowMs: number, initialIntervalMs: number) {
    this.#sizeMax = size;
    this.#intervals = new Float64Array(Math.min(size, 16));
    this.lastMs = nowMs;
    this.add(initialIntervalMs);
  }

  add(intervalMs: number): void {
    if (this.#count === this.#intervals.length && this.#count < this.#sizeMax) {
      // Full but below the window size: nothing was overwritten yet, so the samples are in
      // order from index 0; copy them and write after them.
      const grown = new Float64Array(Math.min(this.#sizeMax, this.#count * 2));
      grown.set(this.#intervals);
      this.#intervals = grown;
      this.#next = this.#count;
    }
    if (this.#count === this.#intervals.length) this.#sum -= this.#intervals[this.#next]!;
    else this.#count++;
    this.#intervals[this.#next] = intervalMs;
    this.#sum += intervalMs;
    this.#next = (this.#next + 1) % this.#intervals.length;
  }

  get size(): number {
    return this.#count;
  }

  get meanMs(): number {
    return this.#sum / this.#count;
  }
}

/** Judges which peers are alive from their heartbeat arrival times. */
export class FailureDetector {
  /** The conviction threshold in use. */
  readonly phiConvictThreshold: number;
  readonly #windowSize: number;
  readonly #initialIntervalMs: number;
  readonly #maxIntervalMs: number;
  readonly #maxLocalPauseMs: number;
  readonly #windows = new Map<string, ArrivalWindow>();
  #lastInterpretMs: number | undefined;
  #lastPauseMs = -Infinity;

  constructor(options: FailureDetectorOptions = {}) {
    this.phiConvictThreshold = options.phiConvictThreshold ?? 8;
    this.#windowSize = options.windowSize ?? 1000;
    this.#initialIntervalMs = options.initialIntervalMs ?? 2000;
    this.#maxIntervalMs = options.maxIntervalMs ?? this.#initialIntervalMs;
    this.#maxLocalPauseMs = options.maxLocalPauseMs ?? 5000;
    if (
      !(this.phiConvictThreshold > 0) || !Number.isSafeInteger(this.#windowSize) ||
      this.#windowSize < 1 || !(this.#initialIntervalMs > 0)
    ) {
      throw new RangeError(
        "Cannot create failure detector: threshold and initial interval must be > 0, and the " +
          "window size an integer >= 1",
      );
    }
  }

  /** A newer heartbeat of `peer` arrived at `nowMs`. */
  report(peer: string, nowMs: number): void {
    const window = this.#windows.get(peer);
    if (window === undefined) {
      this.#windows.set(peer, new ArrivalWindow(this.#windowSize, nowMs, this.#initialIntervalMs));
      return;
    }
    const intervalMs = nowMs - window.lastMs;
    if (intervalMs > 0 && intervalMs <= this.#maxIntervalMs) window.add(intervalMs);
    window.lastMs = Math.max(window.lastMs, nowMs);
  }

  /** Phi of `peer` at `nowMs`; 0 for a peer never heard from. */
  phi(peer: string, nowMs: number): number {
    const window = this.#windows.get(peer);
    if (window === undefined) return 0;
    return (PHI_FACTOR * Math.max(0, nowMs - window.lastMs)) / window.meanMs;
  }

  /**
   * One round's verdict on `peer`: `true` to convict. Call it for every peer each gossip round;
   * rounds far apart reveal a local pause, during and shortly after which no one is convicted.
   */
  interpret(peer: string, nowMs: number): boolean {
    if (
      this.#lastInterpretMs !== undefined && nowMs - this.#lastInterpretMs > this.#maxLocalPauseMs
    ) {
      this.#lastPauseMs = nowMs;
    }
    this.#lastInterpretMs = Math.max(this.#lastInterpretMs ?? nowMs, nowMs);
    if (nowMs - this.#lastPauseMs < this.#maxLocalPauseMs) return false;
    return this.phi(peer, nowMs) > this.phiConvictThreshold;
  }

  /** Time since `peer`'s last heartbeat, ms; 0 for a peer never heard from. */
  silenceMs(peer: string, nowMs: number): number {
    const window = this.#windows.get(peer);
    return window === undefined ? 0 : Math.max(0, nowMs - window.lastMs);
  }

  /** Forgets `peer` (it restarted with a new generation, or left): its window starts anew. */
  remove(peer: string): void {
    this.#windows.delete(peer);
  }

  /** Intervals recorded for `peer` (bounded by the window size). */
  sampleCount(peer: string): number {
    return this.#windows.get(peer)?.size ?? 0;
  }

  /** Mean recorded interval of `peer`, ms; `undefined` for a peer never heard from. */
  meanIntervalMs(peer: string): number | undefined {
    return this.#windows.get(peer)?.meanMs;
  }
}
