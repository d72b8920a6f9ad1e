/**
 * Requests waiting for their response, keyed by (message id, peer), with expiry.
 *
 * Expiry is checked with a timing wheel of `resolutionMs` buckets and a single clock timer, not
 * one timer per request: at millions of requests per second a timer each would dominate the
 * cost. A request times out at most `resolutionMs` after its expiry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../clock.ts";
 * import { RequestCallbacks } from "./request_callbacks.ts";
 * const clock = new ManualClock();
 * const callbacks = new RequestCallbacks(clock);
 * let outcome = "";
 * callbacks.add(7, "10.0.0.2:7000", clock.nowMs() + 100, {
 *   onResponse: () => (outcome = "response"),
 *   onFailure: (error) => (outcome = error.name),
 * });
 * clock.advance(150);
 * assert.equal(outcome, "RequestTimeoutError");
 * callbacks.close();
 * ```
 *
 * @module
 */

import type { Clock, Timer } from "../clock.ts";
import { RequestTimeoutError, ServiceClosedError } from "./errors.ts";

/** What to do when a request is answered, fails, or times out. */
export interface RequestCallback<T = unknown> {
  /** The response arrived. */
  onResponse(response: T): void;
  /** The request failed (FAILURE_RSP, overload, send failure, timeout). */
  onFailure(error: Error): void;
}

interface Entry {
  readonly key: string;
  readonly expiresAtMs: number;
  readonly callback: RequestCallback;
}

/** Default expiry resolution: 10 ms. */
export const DEFAULT_CALLBACK_RESOLUTION_MS = 10;

/** Pending requests and their expiry. */
export class RequestCallbacks {
  readonly #clock: Clock;
  readonly #resolutionMs: number;
  readonly #pending = new Map<string, Entry>();
  /** Bucket number (expiry / resolution, rounded up) → keys expiring in it. */
  readonly #wheel = new Map<number, string[]>();
  /** Every bucket up to this one has been expired. */
  #lastBucket: number;
  #timer: Timer | undefined;
  #closed = false;

  constructor(clock: Clock, resolutionMs = DEFAULT_CALLBACK_RESOLUTION_MS) {
    this.#clock = clock;
    this.#resolutionMs = resolutionMs;
    this.#lastBucket = Math.floor(clock.nowMs() / resolutionMs);
  }

  /** Requests waiting for a response. */
  get size(): number {
    return this.#pending.size;
  }

  /** Registers a request sent to `peerKey` with message `id`. */
  add(id: number, peerKey: string, expiresAtMs: number, callback: RequestCallback): void {
    if (this.#closed) {
      callback.onFailure(new ServiceClosedError("Cannot wait for a response: messaging is closed"));
      return;
    }
    const key = `${id}@${peerKey}`;
    this.#pending.set(key, { key, expiresAtMs, callback });
    const bucket = Math.max(this.#lastBucket + 1, Math.ceil(expiresAtMs / this.#resolutionMs));
    const keys = this.#wheel.get(bucket);
    if (keys === undefined) this.#wheel.set(bucket, [key]);
    else keys.push(key);
    this.#timer ??= this.#clock.setTimer(() => this.#tick(), this.#resolutionMs);
  }

  /** Removes and returns the callback of (`id`, `peerKey`), if still pending. */
  take(id: number, peerKey: string): RequestCallback | undefined {
    const key = `${id}@${peerKey}`;
    const entry = this.#pending.get(key);
    if (entry === undefined) return undefined;
    this.#pending.delete(key);
    return entry.callback;
  }

  /** Fails every pending request (the service is closing). */
  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    const entries = [...this.#pending.values()];
    this.#pending.clear();
    this.#wheel.clear();
    for (const entry of entries) {
      entry.callback.onFailure(
        new ServiceClosedError("Cannot wait for a response: messaging closed"),
      );
    }
  }

  #tick(): void {
    this.#timer = undefined;
    const nowMs = this.#clock.nowMs();
    const nowBucket = Math.floor(nowMs / this.#resolutionMs);
    const due: Entry[] = [];
    const collect = (bucket: number) => {
      const keys = this.#wheel.get(bucket);
      if (keys === undefined) return;
      this.#wheel.delete(bucket);
      for (const key of keys) {
        const entry = this.#pending.get(key);
        if (entry === undefined) continue; // answered already
        this.#pending.delete(key);
        due.push(entry);
      }
    };
    if (nowBucket - this.#lastBucket <= this.#wheel.size) {
      for (let bucket = this.#lastBucket + 1; bucket <= nowBucket; bucket++) collect(bucket);
    } else {
      // A long jump of the clock: visit the filled buckets instead of every empty one.
      for (const bucket of [...this.#wheel.keys()]) if (bucket <= nowBucket) collect(bucket);
    }
    this.#lastBucket = Math.max(this.#lastBucket, nowBucket);
    if (this.#pending.size > 0) {
      this.#timer = this.#clock.setTimer(() => this.#tick(), this.#resolutionMs);
    } else this.#wheel.clear();
    for (const entry of due) {
      entry.callback.onFailure(
        new RequestTimeoutError(
          `Cannot complete request ${entry.key}: no response before it expired`,
        ),
      );
    }
  }
}
