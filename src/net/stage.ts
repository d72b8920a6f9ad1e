/**
 * Bounded handler stages: each verb's handlers run on a stage with its own queue, its own limit
 * of concurrent (asynchronous) handlers, and a bounded backlog. A slow verb fills only its own
 * stage: gossip keeps its own queue and never waits behind mutations.
 *
 * Tasks run in order. Synchronous tasks run back to back; after `batchSize` of them the stage
 * yields to the event loop so sockets and other stages get their turn.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Stage } from "./stage.ts";
 * const stage = new Stage("gossip", { capacityMessages: 2, concurrency: 1 });
 * const seen: number[] = [];
 * assert.equal(stage.submit(() => void seen.push(1)), true);
 * assert.equal(stage.submit(() => void seen.push(2)), true);
 * assert.equal(stage.submit(() => void seen.push(3)), false); // full: refused, not queued
 * await stage.close();
 * assert.deepEqual(seen, [1, 2]);
 * ```
 *
 * @module
 */

import { setImmediate } from "node:timers";

/** The stages verbs run on (Cassandra's, trimmed to what Ringwire uses). */
export type StageName =
  | "immediate"
  | "gossip"
  | "request-response"
  | "mutation"
  | "read"
  | "migration"
  | "anti-entropy"
  | "misc";

/** Options of a {@link Stage}. */
export interface StageOptions {
  /** Most tasks waiting to run; beyond it {@link Stage.submit} refuses. */
  readonly capacityMessages: number;
  /** Most asynchronous tasks in flight at once. */
  readonly concurrency: number;
  /** Synchronous tasks run before yielding to the event loop; default 4096 (≈0.5 ms of small handlers). */
  readonly batchSize?: number;
  /** Receives errors thrown by tasks (tasks should handle their own; this is the backstop). */
  readonly onError?: (error: unknown) => void;
  /** Runs before each batch of tasks (e.g. to read the clock once for the whole batch). */
  readonly beforeBatch?: () => void;
}

type Task = () => void | Promise<void>;

/** A bounded FIFO of handler tasks with a concurrency limit. */
export class Stage {
  /** Stage name, for metrics. */
  readonly name: StageName;
  readonly #capacity: number;
  readonly #concurrency: number;
  readonly #batchSize: number;
  readonly #onError: (error: unknown) => void;
  readonly #beforeBatch: (() => void) | undefined;
  #queue: Task[] = [];
  #head = 0;
  #active = 0;
  #scheduled = false;
  #closed = false;
  #idle: Array<() => void> = [];
  #spaceWaiters: Array<() => void> = [];
  #completed = 0;
  #rejected = 0;

  constructor(name: StageName, options: StageOptions) {
    if (options.capacityMessages < 1 || options.concurrency < 1) {
      throw new RangeError(`Cannot create stage ${name}: capacity and concurrency must be ≥ 1`);
    }
    this.name = name;
    this.#capacity = options.capacityMessages;
    this.#concurrency = options.concurrency;
    this.#batchSize = options.batchSize ?? 4096;
    this.#beforeBatch = options.beforeBatch;
    this.#onError = options.onError ?? ((error) => {
      throw error;
    });
  }

  /** Tasks waiting to run. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Asynchronous tasks in flight. */
  get active(): number {
    return this.#active;
  }

  /** Tasks finished. */
  get completed(): number {
    return this.#completed;
  }

  /** Tasks refused because the queue was full or the stage closed. */
  get rejected(): number {
    return this.#rejected;
  }

  /** Queues `task`; `false` (and nothing queued) when the stage is full or closed. */
  submit(task: Task): boolean {
    if (this.#closed || this.queued >= this.#capacity) {
      this.#rejected++;
      return false;
    }
    this.#queue.push(task);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
    return true;
  }

  /** Whether {@link submit} would accept a task now. */
  get hasSpace(): boolean {
    return !this.#closed && this.queued < this.#capacity;
  }

  /**
   * Resolves once the queue has room again (or the stage closed): lets a producer that can
   * wait, such as an inbound link, push back on its source instead of dropping work.
   */
  waitForSpace(): Promise<void> {
    if (this.hasSpace || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  /** Stops accepting tasks and resolves once every queued and running task has finished. */
  close(): Promise<void> {
    this.#closed = true;
    this.#wakeSpaceWaiters();
    if (this.queued === 0 && this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    let ran = 0;
    if (this.#head < this.#queue.length) this.#beforeBatch?.();
    while (this.#head < this.#queue.length && this.#active < this.#concurrency) {
      const task = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Task;
      let result: void | Promise<void>;
      try {
        result = task();
      } catch (error) {
        this.#completed++;
        this.#onError(error);
        continue;
      }
      if (result instanceof Promise) {
        this.#active++;
        result.then(this.#settled, (error) => {
          this.#onError(error);
          this.#settled();
        });
      } else this.#completed++;
      if (++ran >= this.#batchSize && this.#head < this.#queue.length) {
        this.#scheduled = true;
        setImmediate(this.#drain);
        break;
      }
    }
    if (this.#spaceWaiters.length > 0 && this.queued < this.#capacity) this.#wakeSpaceWaiters();
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#checkIdle();
  };

  readonly #settled = (): void => {
    this.#active--;
    this.#completed++;
    if (this.#head < this.#queue.length && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
    this.#checkIdle();
  };

  #wakeSpaceWaiters(): void {
    const waiters = this.#spaceWaiters;
    this.#spaceWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #checkIdle(): void {
    if (this.queued !== 0 || this.#active !== 0 || this.#idle.length === 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const resolve of waiters) resolve();
  }
}
