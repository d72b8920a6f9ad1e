/**
 * Receive-side capacity of one inbound connection (PROTOCOL.md §7): its own budget first, then
 * the peer's endpoint reserve and the global reserve. A connection that cannot get capacity
 * waits here, and while it waits it does not read its socket: TCP's own flow control then
 * pushes back on the sender.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CapacitySignal, ReceiveCapacity } from "./receive_capacity.ts";
 * import { EndpointAndGlobalReserve, ResourceLimit } from "./resource_limit.ts";
 * const signal = new CapacitySignal();
 * const reserve = new EndpointAndGlobalReserve(new ResourceLimit(10), new ResourceLimit(10));
 * const capacity = new ReceiveCapacity(100, reserve, signal);
 * assert.equal(capacity.tryAcquire(105), 5); // 5 bytes borrowed from the reserves
 * assert.equal(capacity.tryAcquire(20), -1);
 * const waiting = capacity.acquire(20);
 * capacity.release(105, 5);
 * assert.equal(await waiting, 0);
 * ```
 *
 * @module
 */

import type { EndpointAndGlobalReserve } from "./resource_limit.ts";

/** Wakes every connection waiting for receive capacity when any capacity is returned. */
export class CapacitySignal {
  #waiters: Array<() => void> = [];

  /** Resolves at the next {@link notify}. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wakes every waiter (they retry; those still short wait again). */
  notify(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Connections waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }
}

/** One connection's receive budget in front of the shared reserves. */
export class ReceiveCapacity {
  readonly #capacityBytes: number;
  readonly #reserve: EndpointAndGlobalReserve;
  readonly #signal: CapacitySignal;
  #usingBytes = 0;
  #usingReserveBytes = 0;

  constructor(capacityBytes: number, reserve: EndpointAndGlobalReserve, signal: CapacitySignal) {
    this.#capacityBytes = capacityBytes;
    this.#reserve = reserve;
    this.#signal = signal;
  }

  /** Bytes held by this connection's messages. */
  get usingBytes(): number {
    return this.#usingBytes;
  }

  /** Of those, bytes borrowed from the reserves. */
  get usingReserveBytes(): number {
    return this.#usingReserveBytes;
  }

  /** Takes `bytes`; returns how many came from the reserves, or -1 if they cannot be had now. */
  tryAcquire(bytes: number): number {
    const excess = Math.min(bytes, Math.max(0, this.#usingBytes + bytes - this.#capacityBytes));
    if (excess > 0 && this.#reserve.tryAllocate(excess) !== "success") return -1;
    this.#usingBytes += bytes;
    this.#usingReserveBytes += excess;
    return excess;
  }

  /** Takes `bytes`, waiting as long as it takes; resolves with the reserve part. */
  async acquire(bytes: number): Promise<number> {
    for (;;) {
      const reserveBytes = this.tryAcquire(bytes);
      if (reserveBytes >= 0) return reserveBytes;
      await this.#signal.wait();
    }
  }

  /** Returns `bytes`, `reserveBytes` of which were borrowed; wakes waiting connections. */
  release(bytes: number, reserveBytes: number): void {
    this.#usingBytes -= bytes;
    this.#usingReserveBytes -= reserveBytes;
    if (reserveBytes > 0) this.#reserve.release(reserveBytes);
    this.#signal.notify();
  }
}
