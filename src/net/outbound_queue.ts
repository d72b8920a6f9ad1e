/**
 * The queue of one outbound link: messages waiting to be written, in order, with the capacity
 * each holds and expiry that can be enforced anywhere in the queue (an undroppable message at
 * the head never keeps expired messages behind it alive).
 *
 * A ring buffer that only grows (by doubling): a link that empties and refills its queue
 * thousands of times a second must not reallocate it each time.
 *
 * @module
 */

import type { Message } from "../wire/message.ts";

/** A message waiting on a link, with the bytes of capacity it holds. */
export interface QueuedMessage {
  /** The message. */
  readonly message: Message;
  /** Its serialized size at our highest version: what its capacity is accounted as. */
  readonly sizeBytes: number;
  /** Of `sizeBytes`, how much was borrowed from the endpoint and global reserves. */
  readonly reserveBytes: number;
}

/** Slots at first; doubles as needed (a power of two, for the index mask). */
const INITIAL_CAPACITY = 16;

/** FIFO of queued messages with removal of expired entries. */
export class OutboundQueue {
  #items: Array<QueuedMessage | undefined> = new Array(INITIAL_CAPACITY);
  #head = 0;
  #length = 0;

  /** Messages queued. */
  get length(): number {
    return this.#length;
  }

  /** Appends at the tail. */
  push(item: QueuedMessage): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
  }

  /** The head, without removing it. */
  peek(): QueuedMessage | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /** Removes and returns the head. */
  shift(): QueuedMessage | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length--;
    return item;
  }

  /** Puts `item` back at the head (a frame it did not fit in). */
  unshift(item: QueuedMessage): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#head = (this.#head - 1) & (this.#items.length - 1);
    this.#items[this.#head] = item;
    this.#length++;
  }

  /** Removes every message expired at `nowMs` and returns them, keeping the order of the rest. */
  removeExpired(nowMs: number): QueuedMessage[] {
    const expired: QueuedMessage[] = [];
    const kept: QueuedMessage[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) {
      if (item.message.expiresAtMs <= nowMs) expired.push(item);
      else kept.push(item);
    }
    for (const item of kept) this.push(item);
    return expired;
  }

  /** Removes and returns every message. */
  drain(): QueuedMessage[] {
    const all: QueuedMessage[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) all.push(item);
    return all;
  }

  #grow(): void {
    const old = this.#items;
    const grown: Array<QueuedMessage | undefined> = new Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) grown[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = grown;
    this.#head = 0;
  }
}
