/**
 * Turns a version-12 frame stream into messages (PROTOCOL.md §4–§5).
 *
 * Self-contained frames are split into their messages without copying (each message is a range
 * of the frame payload). A large message is announced by a `large-begin` event from its first
 * frame, then gathered into one buffer of its exact size as its frames arrive; the caller may
 * discard it instead, and its remaining frames are skipped unbuffered.
 *
 * Corruption follows §4: a bad header CRC is fatal; a bad payload CRC skips that frame, except
 * on the first frame of a large message (its size is unknown), which is fatal; a bad later frame
 * of a large message discards that message and skips its remaining frames.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FramedMessageReader } from "./framed_message_reader.ts";
 * import { encodeCrcFrame } from "./frame_encoder.ts";
 * // Two ECHO_REQ messages packed into one self-contained frame.
 * const echo = [0x01, 0x12, 0x34, 0x56, 0x78, 0xa7, 0x10, 0x1f, 0, 0, 0];
 * const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 20 });
 * reader.push(encodeCrcFrame(Uint8Array.from([...echo, ...echo]), true));
 * assert(reader.next()?.kind === "message");
 * assert(reader.next()?.kind === "message");
 * assert(reader.next() === undefined);
 * ```
 *
 * @module
 */

import { MalformedInputError, WireError } from "./errors.ts";
import type { FramingKind } from "./frame_encoder.ts";
import { FrameDecoder } from "./frame_decoder.ts";
import type {
  InboundEvent,
  InboundMessage,
  MessageReader,
  MessageReaderOptions,
} from "./inbound_event.ts";
import { MessageHeader, scanMessageHeader } from "./message_header.ts";

const EMPTY_BUFFER = new Uint8Array(0);

type LargeState =
  | { mode: "none" }
  | { mode: "announced"; firstPayload: Uint8Array; size: number }
  | { mode: "gathering"; buf: Uint8Array; filled: number }
  | { mode: "skipping"; remaining: number };

/** Reads messages from a stream of CRC, LZ4 or Unprotected frames. */
export class FramedMessageReader implements MessageReader {
  readonly #frames: FrameDecoder;
  readonly #version: number;
  readonly #maxMessageSizeBytes: number;
  readonly #header = new MessageHeader();
  readonly #message: { -readonly [K in keyof InboundMessage]: InboundMessage[K] };
  /** Payload of the self-contained frame being split, and the read position in it. */
  #frame: Uint8Array | undefined;
  #framePos = 0;
  #large: LargeState = { mode: "none" };
  #failed = false;

  constructor(framing: FramingKind, options: MessageReaderOptions) {
    this.#frames = new FrameDecoder(framing);
    this.#version = options.version;
    this.#maxMessageSizeBytes = options.maxMessageSizeBytes;
    this.#message = {
      kind: "message",
      header: this.#header,
      buf: EMPTY_BUFFER,
      offset: 0,
      end: 0,
    };
  }

  /** Whether a fatal error ended the stream. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Hands over the next chunk; only after {@link next} returned `undefined`. */
  push(chunk: Uint8Array): void {
    if (this.#failed) return; // a failed stream drops whatever else arrives
    this.#frames.push(chunk);
  }

  /** Skips the rest of the large message announced by the last `large-begin`. */
  discardLarge(): void {
    const large = this.#large;
    if (large.mode !== "announced") {
      throw new Error("discardLarge() called without a large message just announced");
    }
    this.#large = { mode: "skipping", remaining: large.size - large.firstPayload.length };
  }

  /** The next event, or `undefined` when more bytes are needed. */
  next(): InboundEvent | undefined {
    if (this.#failed) return undefined;
    if (this.#frame !== undefined) return this.#nextInFrame(this.#frame);
    if (this.#large.mode === "announced") this.#startGathering(this.#large);
    for (;;) {
      const event = this.#frames.next();
      if (event === undefined) {
        // Waiting for bytes: let go of the last frame, so an idle link pins no buffer.
        this.#message.buf = EMPTY_BUFFER;
        return undefined;
      }
      if (event.kind === "fatal") return this.#fatal(event.error);
      if (event.kind === "corrupt") {
        const large = this.#large;
        if (large.mode === "none") {
          if (!event.selfContained) {
            // The first frame of a large message: its size is unknown, the stream is lost.
            return this.#fatal(event.error);
          }
          return { kind: "corrupt-frame", wireLength: event.wireLength, largeMessageLost: false };
        }
        if (event.selfContained) return this.#fatal(this.#interleaved());
        const remaining = large.mode === "gathering"
          ? large.buf.length - large.filled - event.payloadLength
          : (large.mode === "skipping" ? large.remaining : 0) - event.payloadLength;
        const lost = large.mode === "gathering";
        this.#large = remaining > 0 ? { mode: "skipping", remaining } : { mode: "none" };
        if (remaining < 0) return this.#fatal(this.#overrun());
        return { kind: "corrupt-frame", wireLength: event.wireLength, largeMessageLost: lost };
      }
      const payload = event.payload;
      if (event.selfContained) {
        if (this.#large.mode !== "none") return this.#fatal(this.#interleaved());
        if (payload.length === 0) continue;
        this.#frame = payload;
        this.#framePos = 0;
        return this.#nextInFrame(payload);
      }
      const result = this.#onLargeFrame(payload);
      if (result !== undefined) return result;
    }
  }

  #nextInFrame(frame: Uint8Array): InboundEvent | undefined {
    const start = this.#framePos;
    const header = this.#header;
    let complete: boolean;
    try {
      complete = scanMessageHeader(frame, start, frame.length, this.#version, header);
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      return this.#malformed(error, frame.length - start);
    }
    if (!complete || start + header.sizeBytes > frame.length) {
      return this.#malformed(
        new MalformedInputError(
          "Cannot read message: it runs past the end of its self-contained frame",
        ),
        frame.length - start,
      );
    }
    const end = start + header.sizeBytes;
    this.#advanceFrame(end);
    if (header.sizeBytes > this.#maxMessageSizeBytes) {
      return { kind: "oversized", sizeBytes: header.sizeBytes, verbId: header.verbId };
    }
    const message = this.#message;
    message.buf = frame;
    message.offset = start;
    message.end = end;
    return message;
  }

  #advanceFrame(pos: number): void {
    if (pos >= this.#frame!.length) {
      this.#frame = undefined;
      this.#framePos = 0;
    } else this.#framePos = pos;
  }

  #malformed(error: WireError, skippedBytes: number): InboundEvent {
    this.#frame = undefined;
    this.#framePos = 0;
    return { kind: "malformed", error, skippedBytes };
  }

  /** Handles one non-self-contained frame; `undefined` when it produced no event. */
  #onLargeFrame(payload: Uint8Array): InboundEvent | undefined {
    const large = this.#large;
    switch (large.mode) {
      case "none": {
        const header = this.#header;
        let complete: boolean;
        try {
          complete = scanMessageHeader(payload, 0, payload.length, this.#version, header);
        } catch (error) {
          if (!(error instanceof WireError)) throw error;
          return this.#fatal(error);
        }
        if (!complete) {
          return this.#fatal(
            new MalformedInputError(
              "Cannot read large message: its header does not fit in its first frame",
            ),
          );
        }
        const size = header.sizeBytes;
        if (size < payload.length) return this.#fatal(this.#overrun());
        if (size > this.#maxMessageSizeBytes) {
          const remaining = size - payload.length;
          if (remaining > 0) this.#large = { mode: "skipping", remaining };
          return { kind: "oversized", sizeBytes: size, verbId: header.verbId };
        }
        if (size === payload.length) {
          const message = this.#message;
          message.buf = payload;
          message.offset = 0;
          message.end = size;
          return message;
        }
        this.#large = { mode: "announced", firstPayload: payload, size };
        return { kind: "large-begin", header, sizeBytes: size };
      }
      case "announced":
        // next() always moves an announced message to gathering first.
        throw new Error("unreachable: announced large message not started");
      case "skipping": {
        const remaining = large.remaining - payload.length;
        if (remaining < 0) return this.#fatal(this.#overrun());
        this.#large = remaining === 0 ? { mode: "none" } : { mode: "skipping", remaining };
        return undefined;
      }
      case "gathering": {
        if (large.filled + payload.length > large.buf.length) return this.#fatal(this.#overrun());
        large.buf.set(payload, large.filled);
        large.filled += payload.length;
        if (large.filled < large.buf.length) return undefined;
        this.#large = { mode: "none" };
        // Re-scan the header from the gathered copy: the first frame's bytes may be gone.
        scanMessageHeader(large.buf, 0, large.buf.length, this.#version, this.#header);
        const message = this.#message;
        message.buf = large.buf;
        message.offset = 0;
        message.end = large.buf.length;
        return message;
      }
    }
  }

  #startGathering(large: { firstPayload: Uint8Array; size: number }): void {
    const buf = new Uint8Array(large.size);
    buf.set(large.firstPayload);
    this.#large = { mode: "gathering", buf, filled: large.firstPayload.length };
  }

  #interleaved(): WireError {
    return new MalformedInputError(
      "Cannot read large message: a self-contained frame arrived before it was complete",
    );
  }

  #overrun(): WireError {
    return new MalformedInputError("Cannot read large message: its frames exceed its size");
  }

  #fatal(error: WireError): InboundEvent {
    this.#failed = true;
    this.#frame = undefined;
    this.#large = { mode: "none" };
    return { kind: "fatal", error };
  }
}
