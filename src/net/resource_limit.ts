/**
 * Byte budgets (PROTOCOL.md §7): a {@link ResourceLimit} per link, and an
 * {@link EndpointAndGlobalReserve} that a message borrows from when its link's own budget is
 * exhausted: the peer's endpoint reserve (shared by its links) and the global reserve (shared by
 * every peer), taken together or not at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EndpointAndGlobalReserve, ResourceLimit } from "./resource_limit.ts";
 * const global = new ResourceLimit(100);
 * const reserve = new EndpointAndGlobalReserve(new ResourceLimit(60), global);
 * assert.equal(reserve.tryAllocate(50), "success");
 * assert.equal(reserve.tryAllocate(20), "insufficient-endpoint");
 * reserve.release(50);
 * assert.equal(global.using, 0);
 * ```
 *
 * @module
 */

/** A budget of bytes: `using` never exceeds `limit` through {@link tryAllocate}. */
export class ResourceLimit {
  /** The budget, in bytes. */
  readonly limit: number;
  #using = 0;

  constructor(limit: number) {
    if (!(limit >= 0) || !Number.isSafeInteger(limit)) {
      throw new RangeError(`Cannot create limit: ${limit} is not a non-negative integer`);
    }
    this.limit = limit;
  }

  /** Bytes currently allocated. */
  get using(): number {
    return this.#using;
  }

  /** Bytes still free (never negative). */
  get remaining(): number {
    return Math.max(0, this.limit - this.#using);
  }

  /** Allocates `bytes` if that keeps `using` within the limit. */
  tryAllocate(bytes: number): boolean {
    if (this.#using + bytes > this.limit) return false;
    this.#using += bytes;
    return true;
  }

  /** Allocates `bytes` unconditionally (the caller has decided to go over). */
  allocate(bytes: number): void {
    this.#using += bytes;
  }

  /**
   * Returns `bytes` to the budget.
   * @returns whether usage is still at or above the limit afterwards
   */
  release(bytes: number): boolean {
    if (bytes > this.#using) {
      throw new Error(`ResourceLimit.release(${bytes}) exceeds the ${this.#using} bytes in use`);
    }
    this.#using -= bytes;
    return this.#using >= this.limit;
  }
}

/** Why a reserve could not lend bytes. */
export type ReserveOutcome = "success" | "insufficient-endpoint" | "insufficient-global";

/** The endpoint reserve and global reserve, allocated together. */
export class EndpointAndGlobalReserve {
  /** The peer's reserve, shared by its links. */
  readonly endpoint: ResourceLimit;
  /** The node-wide reserve, shared by all peers. */
  readonly global: ResourceLimit;

  constructor(endpoint: ResourceLimit, global: ResourceLimit) {
    this.endpoint = endpoint;
    this.global = global;
  }

  /** Takes `bytes` from both reserves, or from neither. Global is tried first, as Cassandra. */
  tryAllocate(bytes: number): ReserveOutcome {
    if (!this.global.tryAllocate(bytes)) return "insufficient-global";
    if (!this.endpoint.tryAllocate(bytes)) {
      this.global.release(bytes);
      return "insufficient-endpoint";
    }
    return "success";
  }

  /** Returns `bytes` to both reserves. */
  release(bytes: number): void {
    this.endpoint.release(bytes);
    this.global.release(bytes);
  }
}
