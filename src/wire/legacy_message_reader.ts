/**
 * Reads the unframed message stream of messaging version 11 (PROTOCOL.md §5): messages back to
 * back, each starting with the protocol magic, sizes found from their headers.
 *
 * A message wholly inside a chunk is returned as a view of it; one that straddles chunks is
 * copied once into a buffer of its exact size. Large messages (over `largeThresholdBytes`) are
 * announced with `large-begin` before they are buffered, so the caller can discard them. Without
 * frames there is nothing to resynchronise on: a bad magic or an impossible field is fatal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LegacyMessageReader } from "./legacy_message_reader.ts";
 * const reader = new LegacyMessageReader({ version: 11, maxMessageSizeBytes: 1 << 20 });
 * reader.push(Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
 * assert(reader.next()?.kind === "fatal");
 * ```
 *
 * @module
 */

import { MessageTooLargeError, WireError } from "./errors.ts";
import type {
  InboundEvent,
  InboundMessage,
  MessageReader,
  MessageReaderOptions,
} from "./inbound_event.ts";
import { inferMessageSize, MessageHeader, scanMessageHeader } from "./message_header.ts";

/** Messages above this size are announced before they are buffered (64 KiB minus overhead). */
export const LARGE_MESSAGE_THRESHOLD_BYTES = 65515;

/** Options of the legacy reader. */
export interface LegacyMessageReaderOptions extends MessageReaderOptions {
  /** Size above which a message is announced with `large-begin`; default 65515. */
  readonly largeThresholdBytes?: number;
}

/** Reads version-11 messages from a byte stream. */
export class LegacyMessageReader implements MessageReader {
  readonly #version: number;
  readonly #maxMessageSizeBytes: number;
  readonly #largeThresholdBytes: number;
  readonly #header = new MessageHeader();
  readonly #message: { -readonly [K in keyof InboundMessage]: InboundMessage[K] };
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  /** Bytes of a message that straddles chunks; `#stageSize` is -1 while its size is unknown. */
  #stage: Uint8Array | undefined;
  #stageFilled = 0;
  #stageSize = -1;
  #announced = false;
  #skipping = 0;
  #failed = false;

  constructor(options: LegacyMessageReaderOptions) {
    this.#version = options.version;
    this.#maxMessageSizeBytes = options.maxMessageSizeBytes;
    this.#largeThresholdBytes = options.largeThresholdBytes ?? LARGE_MESSAGE_THRESHOLD_BYTES;
    this.#message = { kind: "message", header: this.#header, buf: this.#chunk, offset: 0, end: 0 };
  }

  /** Whether a fatal error ended the stream. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Hands over the next chunk; only after {@link next} returned `undefined`. */
  push(chunk: Uint8Array): void {
    if (this.#failed) return; // a failed stream drops whatever else arrives
    if (this.#pos < this.#chunk.length) {
      throw new Error("LegacyMessageReader.push() called before the previous chunk was consumed");
    }
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /** Skips the rest of the large message announced by the last `large-begin`. */
  discardLarge(): void {
    if (!this.#announced) throw new Error("discardLarge() called without a large message");
    this.#announced = false;
    this.#skipping = this.#stageSize - this.#stageFilled;
    this.#stage = undefined;
    this.#stageFilled = 0;
    this.#stageSize = -1;
  }

  /** The next event, or `undefined` when more bytes are needed. */
  next(): InboundEvent | undefined {
    if (this.#failed) return undefined;
    this.#announced = false;
    if (this.#skipping > 0) {
      const take = Math.min(this.#skipping, this.#chunk.length - this.#pos);
      this.#skipping -= take;
      this.#pos += take;
      if (this.#skipping > 0) return undefined;
    }
    try {
      return this.#stage !== undefined ? this.#continueStaged() : this.#nextInChunk();
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.#failed = true;
      this.#stage = undefined;
      this.#pos = this.#chunk.length; // a failed stream drops whatever else arrives
      return { kind: "fatal", error };
    }
  }

  #nextInChunk(): InboundEvent | undefined {
    const chunk = this.#chunk;
    const start = this.#pos;
    if (start >= chunk.length) return undefined;
    const size = this.#infer(chunk, start, chunk.length);
    if (size === undefined) {
      this.#stageBytes(-1);
      return undefined;
    }
    if (size < 0) return this.#skipOversized(-size, chunk.length - start);
    if (start + size <= chunk.length && size <= this.#largeThresholdBytes) {
      this.#pos = start + size;
      return this.#emit(chunk, start, start + size);
    }
    this.#stageBytes(size);
    return this.#maybeAnnounce();
  }

  /** Size of the message at `offset`, `undefined` if unknown yet, negative if oversized. */
  #infer(buf: Uint8Array, offset: number, limit: number): number | undefined {
    try {
      const size = inferMessageSize(
        buf,
        offset,
        limit,
        this.#version,
        this.#maxMessageSizeBytes,
        this.#header,
      );
      return size < 0 ? undefined : size;
    } catch (error) {
      if (error instanceof MessageTooLargeError && this.#header.sizeBytes === error.sizeBytes) {
        return -error.sizeBytes;
      }
      throw error;
    }
  }

  #skipOversized(size: number, available: number): InboundEvent {
    const take = Math.min(size, available);
    this.#pos += take;
    this.#skipping = size - take;
    this.#stage = undefined;
    this.#stageFilled = 0;
    this.#stageSize = -1;
    return { kind: "oversized", sizeBytes: size, verbId: this.#header.verbId };
  }

  /** Moves the rest of the chunk into a stage buffer (exact size when known). */
  #stageBytes(size: number): void {
    const rest = this.#chunk.subarray(this.#pos);
    const stage = new Uint8Array(size >= 0 ? size : Math.max(64, rest.length * 2));
    const take = Math.min(rest.length, stage.length);
    stage.set(rest.subarray(0, take));
    this.#stage = stage;
    this.#stageFilled = take;
    this.#stageSize = size;
    this.#pos += take;
  }

  #maybeAnnounce(): InboundEvent | undefined {
    if (this.#stageSize > this.#largeThresholdBytes) {
      this.#announced = true;
      return { kind: "large-begin", header: this.#header, sizeBytes: this.#stageSize };
    }
    return this.#continueStaged();
  }

  #continueStaged(): InboundEvent | undefined {
    for (;;) {
      let stage = this.#stage!;
      if (this.#stageSize < 0) {
        const size = this.#infer(stage, 0, this.#stageFilled);
        if (size !== undefined) {
          if (size < 0) {
            // The staged bytes are already consumed: skip only what is still to come.
            const staged = this.#stageFilled;
            this.#skipping = Math.max(0, -size - staged);
            this.#pos -= Math.max(0, staged + size); // staged bytes past it belong to the next
            this.#stage = undefined;
            this.#stageFilled = 0;
            this.#stageSize = -1;
            return { kind: "oversized", sizeBytes: -size, verbId: this.#header.verbId };
          }
          const exact = new Uint8Array(size);
          exact.set(stage.subarray(0, Math.min(size, this.#stageFilled)));
          // Bytes staged beyond this message belong to the next one: give them back.
          this.#pos -= Math.max(0, this.#stageFilled - size);
          this.#stageFilled = Math.min(size, this.#stageFilled);
          this.#stage = exact;
          this.#stageSize = size;
          if (size > this.#largeThresholdBytes) {
            this.#announced = true;
            return { kind: "large-begin", header: this.#header, sizeBytes: size };
          }
          continue;
        }
        if (this.#pos >= this.#chunk.length) return undefined;
        if (this.#stageFilled === stage.length) {
          const grown = new Uint8Array(stage.length * 2);
          grown.set(stage);
          this.#stage = stage = grown;
        }
      }
      const target = this.#stageSize >= 0 ? this.#stageSize : stage.length;
      const take = Math.min(target - this.#stageFilled, this.#chunk.length - this.#pos);
      stage.set(this.#chunk.subarray(this.#pos, this.#pos + take), this.#stageFilled);
      this.#stageFilled += take;
      this.#pos += take;
      if (this.#stageSize >= 0 && this.#stageFilled === this.#stageSize) {
        this.#stage = undefined;
        this.#stageFilled = 0;
        this.#stageSize = -1;
        scanMessageHeader(stage, 0, stage.length, this.#version, this.#header);
        return this.#emit(stage, 0, stage.length);
      }
      // Size still unknown: loop to scan the header again with the bytes just staged.
      if (this.#stageSize >= 0 && this.#pos >= this.#chunk.length) return undefined;
    }
  }

  #emit(buf: Uint8Array, offset: number, end: number): InboundMessage {
    const message = this.#message;
    message.buf = buf;
    message.offset = offset;
    message.end = end;
    return message;
  }
}
