/**
 * The queue of one outbound link: messages waiting to be written, in order, with the capacity
 * each holds and expiry that can be enforced anywhere in the queue (an undroppable message at
 * the head never keeps expired messages behind it alive).
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

/** FIFO of queued messages with removal of expired entries. */
export class OutboundQueue {
  #items: Array<QueuedMessage | undefined> = [];
  #head = 0;

  /** Messages queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Appends at the tail. */
  push(item: QueuedMessage): void {
    this.#items.push(item);
  }

  /** The head, without removing it. */
  peek(): QueuedMessage | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the head. */
  shift(): QueuedMessage | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Puts `item` back at the head (a frame it did not fit in). */
  unshift(item: QueuedMessage): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** Removes every message expired at `nowMs` and returns them, keeping the order of the rest. */
  removeExpired(nowMs: number): QueuedMessage[] {
    const expired: QueuedMessage[] = [];
    const kept: Array<QueuedMessage | undefined> = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (item.message.expiresAtMs <= nowMs) expired.push(item);
      else kept.push(item);
    }
    if (expired.length > 0) {
      this.#items = kept;
      this.#head = 0;
    }
    return expired;
  }

  /** Removes and returns every message. */
  drain(): QueuedMessage[] {
    const all = this.#items.slice(this.#head) as QueuedMessage[];
    this.#items = [];
    this.#head = 0;
    return all;
  }
}
