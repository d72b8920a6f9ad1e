/**
 * One direction of an in-memory connection (for `memory_transport.ts`): bytes in flight with
 * the network's latency, bytes arrived, a FIN, and the flow-control bound that makes a writer
 * wait while its reader does not read.
 *
 * @module
 */

import type { Clock, Timer } from "../clock.ts";

const NS_PER_MS = 1_000_000;

/** Settings of one {@linkcode Pipe}. */
export interface PipeOptions {
  readonly clock: Clock;
  readonly latencyMs: number;
  readonly capacityBytes: number;
  readonly readSizeBytesMax: number;
  /** Whether bytes can travel right now (no partition, no down host). */
  readonly reachable: () => boolean;
}

/** Written bytes on their way; `null` is the writer's end of stream (FIN). */
interface InFlight {
  readonly bytes: Uint8Array | null;
  readonly dueNs: number;
}

export type WriteOutcome = "written" | "writer-closed" | "reader-closed";

/** One direction of a connection: bytes in flight, bytes arrived, and the flow-control bound. */
export class Pipe {
  readonly #options: PipeOptions;
  readonly #inFlight: InFlight[] = [];
  readonly #arrived: Uint8Array[] = [];
  /** Bytes taken from the writer and not yet read: in flight plus arrived. */
  #unreadBytes = 0;
  #arrivedBytes = 0;
  #finArrived = false;
  #writerClosed = false;
  #readerClosed = false;
  #deliveryArmed = false;
  #deliveryTimer: Timer | undefined;
  #reader: ((bytes: Uint8Array | null) => void) | undefined;
  /** Wakes the write waiting for space (writes are serialized by the connection). */
  #spaceWaiter: (() => void) | undefined;

  constructor(options: PipeOptions) {
    this.#options = options;
  }

  /** Takes all of `bytes`, waiting for space as needed. */
  async write(bytes: Uint8Array): Promise<WriteOutcome> {
    for (let offset = 0;;) {
      if (this.#writerClosed) return "writer-closed";
      if (this.#readerClosed) return "reader-closed";
      if (offset === bytes.length) return "written";
      const space = this.#options.capacityBytes - this.#unreadBytes;
      if (space > 0) {
        const end = Math.min(bytes.length, offset + space);
        this.#send(bytes.slice(offset, end));
        offset = end;
        continue;
      }
      await new Promise<void>((resolve) => this.#spaceWaiter = resolve);
    }
  }

  /** The writer's end of stream: after the bytes already taken, reads return `null`. */
  closeWriter(): void {
    if (this.#writerClosed) return;
    this.#writerClosed = true;
    this.#wakeWriter();
    if (this.#readerClosed) return;
    this.#inFlight.push({ bytes: null, dueNs: this.#dueNs() });
    this.schedule();
  }

  /** The reader is gone: what was sent is dropped and the writer fails from now on. */
  closeReader(): void {
    if (this.#readerClosed) return;
    this.#readerClosed = true;
    this.#deliveryTimer?.cancel();
    this.#deliveryTimer = undefined;
    this.#inFlight.length = 0;
    this.#arrived.length = 0;
    this.#unreadBytes = 0;
    this.#arrivedBytes = 0;
    this.#wakeWriter();
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.(null);
  }

  /** Both ends are gone at once (reset). */
  abort(): void {
    this.closeReader();
    this.#writerClosed = true;
  }

  read(): Promise<Uint8Array | null> {
    if (this.#reader !== undefined) {
      return Promise.reject(new Error("Cannot read: another read is pending on this connection"));
    }
    if (this.#readerClosed) return Promise.resolve(null);
    if (this.#arrivedBytes > 0) return Promise.resolve(this.#take());
    if (this.#finArrived) return Promise.resolve(null);
    return new Promise((resolve) => this.#reader = resolve);
  }

  /** Arms the delivery of the oldest bytes in flight, unless armed, blocked or done. */
  schedule(): void {
    if (this.#deliveryArmed || this.#inFlight.length === 0 || this.#readerClosed) return;
    if (!this.#options.reachable()) return;
    this.#deliveryArmed = true;
    if (this.#options.latencyMs === 0) {
      queueMicrotask(() => this.#deliver());
      return;
    }
    const head = this.#inFlight[0] as InFlight;
    const delayMs = Math.max(0, (head.dueNs - this.#options.clock.monotonicNs()) / NS_PER_MS);
    this.#deliveryTimer = this.#options.clock.setTimer(() => this.#deliver(), delayMs);
  }

  #send(bytes: Uint8Array): void {
    this.#inFlight.push({ bytes, dueNs: this.#dueNs() });
    this.#unreadBytes += bytes.length;
    this.schedule();
  }

  #dueNs(): number {
    return this.#options.clock.monotonicNs() + Math.round(this.#options.latencyMs * NS_PER_MS);
  }

  #deliver(): void {
    this.#deliveryArmed = false;
    this.#deliveryTimer = undefined;
    // Blocked since the delivery was armed: the bytes wait for resumeDelivery().
    if (this.#readerClosed || !this.#options.reachable()) return;
    const nowNs = this.#options.clock.monotonicNs();
    // The head is due (its timer fired); a timer may fire a hair early by the monotonic clock.
    for (let first = true; this.#inFlight.length > 0; first = false) {
      const next = this.#inFlight[0] as InFlight;
      if (!first && this.#options.latencyMs > 0 && next.dueNs > nowNs) break;
      this.#inFlight.shift();
      if (next.bytes === null) {
        this.#finArrived = true;
      } else {
        this.#arrived.push(next.bytes);
        this.#arrivedBytes += next.bytes.length;
      }
    }
    const reader = this.#reader;
    if (reader !== undefined && (this.#arrivedBytes > 0 || this.#finArrived)) {
      this.#reader = undefined;
      reader(this.#arrivedBytes > 0 ? this.#take() : null);
    }
    this.schedule();
  }

  /** Removes up to `readSizeBytesMax` arrived bytes, in a buffer no one else references. */
  #take(): Uint8Array {
    const size = Math.min(this.#arrivedBytes, this.#options.readSizeBytesMax);
    const head = this.#arrived[0] as Uint8Array;
    let out: Uint8Array;
    if (head.length >= size) {
      // Chunks are private copies, so disjoint views of one are as fresh as a new buffer.
      out = head.subarray(0, size);
      if (head.length === size) this.#arrived.shift();
      else this.#arrived[0] = head.subarray(size);
    } else {
      out = new Uint8Array(size);
      for (let filled = 0; filled < size;) {
        const chunk = this.#arrived[0] as Uint8Array;
        const n = Math.min(chunk.length, size - filled);
        out.set(chunk.subarray(0, n), filled);
        filled += n;
        if (n === chunk.length) this.#arrived.shift();
        else this.#arrived[0] = chunk.subarray(n);
      }
    }
    this.#arrivedBytes -= size;
    this.#unreadBytes -= size;
    this.#wakeWriter();
    return out;
  }

  #wakeWriter(): void {
    const waiter = this.#spaceWaiter;
    this.#spaceWaiter = undefined;
    waiter?.();
  }
}
