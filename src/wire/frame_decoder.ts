/**
 * Incremental frame decoder for messaging version 12 (PROTOCOL.md §4).
 *
 * Bytes arrive in chunks split anywhere. {@link FrameDecoder.push} hands over a chunk and
 * {@link FrameDecoder.next} pulls one event at a time, so a reader that runs out of capacity can
 * simply stop pulling. A frame that lies wholly inside a chunk is returned as a view of it (no
 * copy); only a frame that straddles chunks is copied, once, into a buffer of its exact size.
 * Callers therefore must not overwrite a pushed chunk while its payload views are in use.
 *
 * Corruption is classified as §4 says: a header CRC24 mismatch is `fatal` (the length cannot be
 * trusted; the decoder stops), a payload CRC32 mismatch (or an LZ4 block that does not expand
 * to its announced size) is a recoverable `corrupt` frame whose length is known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoder } from "./frame_decoder.ts";
 * import { encodeCrcFrame } from "./frame_encoder.ts";
 * const frame = encodeCrcFrame(new TextEncoder().encode("hello"), true);
 * const decoder = new FrameDecoder("crc");
 * decoder.push(frame.subarray(0, 4));
 * assert(decoder.next() === undefined); // needs more bytes
 * decoder.push(frame.subarray(4));
 * const event = decoder.next();
 * assert(event?.kind === "frame" && event.payload.length === 5);
 * ```
 *
 * @module
 */

import { crc24 } from "./crc24.ts";
import { seededCrc32 } from "./crc32.ts";
import {
  CorruptFrameHeaderError,
  CorruptFramePayloadError,
  MalformedInputError,
  TruncatedInputError,
} from "./errors.ts";
import {
  CRC_HEADER_LENGTH,
  type FramingKind,
  LZ4_HEADER_LENGTH,
  TRAILER_LENGTH,
} from "./frame_encoder.ts";
import { lz4DecompressBlock } from "./lz4.ts";

/** A frame whose checks passed. */
export interface DecodedFrame {
  readonly kind: "frame";
  /** Whether the payload holds whole messages (else: one piece of a large message). */
  readonly selfContained: boolean;
  /** The (decompressed) payload. */
  readonly payload: Uint8Array;
  /** Bytes the frame took on the wire, header and trailer included. */
  readonly wireLength: number;
}

/** A frame whose payload failed its checks; its length was trusted, so decoding goes on. */
export interface CorruptFrame {
  readonly kind: "corrupt";
  /** The header's self-contained bit (trusted: the header passed its CRC). */
  readonly selfContained: boolean;
  /** Bytes skipped on the wire. */
  readonly wireLength: number;
  /** Payload length the header announced (uncompressed for LZ4 when known). */
  readonly payloadLength: number;
  /** What was wrong. */
  readonly error: CorruptFramePayloadError;
}

/** A header failed its CRC: the stream is lost and the connection must close. */
export interface FatalFrameError {
  readonly kind: "fatal";
  /** What was wrong. */
  readonly error: CorruptFrameHeaderError;
}

/** What {@link FrameDecoder.next} yields. */
export type FrameEvent = DecodedFrame | CorruptFrame | FatalFrameError;

const EMPTY_CHUNK = new Uint8Array(0);

/** Pull-based decoder of one framing's byte stream. */
export class FrameDecoder {
  /** The framing decoded. */
  readonly kind: FramingKind;
  readonly #headerLength: number;
  readonly #trailerLength: number;
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  /** Partial frame (or partial header) carried across chunks. */
  #stage: Uint8Array | undefined;
  #stageFilled = 0;
  #stageIsHeader = false;
  #failed = false;

  constructor(kind: FramingKind) {
    this.kind = kind;
    this.#headerLength = kind === "lz4" ? LZ4_HEADER_LENGTH : CRC_HEADER_LENGTH;
    this.#trailerLength = kind === "unprotected" ? 0 : TRAILER_LENGTH;
  }

  /** Whether a header CRC failed; a failed decoder yields nothing more. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Bytes received but not yet returned as events. */
  get bufferedBytes(): number {
    return this.#chunk.length - this.#pos + this.#stageFilled;
  }

  /**
   * Hands over the next chunk of the stream. Only call once {@link next} has returned
   * `undefined`: the previous chunk must be used up.
   */
  push(chunk: Uint8Array): void {
    if (this.#pos < this.#chunk.length) {
      throw new Error("FrameDecoder.push() called before the previous chunk was consumed");
    }
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /** The next event, or `undefined` when more bytes are needed. */
  next(): FrameEvent | undefined {
    if (this.#failed) return undefined;
    if (this.#stage !== undefined) return this.#continueStaged();
    const chunk = this.#chunk;
    const pos = this.#pos;
    const remaining = chunk.length - pos;
    if (remaining < this.#headerLength) {
      if (remaining > 0) this.#startStage(new Uint8Array(this.#headerLength), true);
      // Drop the used-up chunk: an idle connection should not pin its last read buffer.
      this.#chunk = EMPTY_CHUNK;
      this.#pos = 0;
      return undefined;
    }
    const frameLength = this.#frameLengthAt(chunk, pos);
    if (frameLength < 0) return this.#fail();
    if (remaining >= frameLength) {
      this.#pos = pos + frameLength;
      return this.#decodeFrame(chunk, pos, frameLength);
    }
    this.#startStage(new Uint8Array(frameLength), false);
    return undefined;
  }

  #startStage(stage: Uint8Array, isHeader: boolean): void {
    const rest = this.#chunk.subarray(this.#pos);
    stage.set(rest);
    this.#stage = stage;
    this.#stageFilled = rest.length;
    this.#stageIsHeader = isHeader;
    this.#pos = this.#chunk.length;
  }

  #continueStaged(): FrameEvent | undefined {
    for (;;) {
      const stage = this.#stage!;
      const take = Math.min(stage.length - this.#stageFilled, this.#chunk.length - this.#pos);
      stage.set(this.#chunk.subarray(this.#pos, this.#pos + take), this.#stageFilled);
      this.#stageFilled += take;
      this.#pos += take;
      if (this.#stageFilled < stage.length) return undefined;
      if (!this.#stageIsHeader) {
        this.#stage = undefined;
        this.#stageFilled = 0;
        return this.#decodeFrame(stage, 0, stage.length);
      }
      const frameLength = this.#frameLengthAt(stage, 0);
      if (frameLength < 0) return this.#fail();
      const full = new Uint8Array(frameLength);
      full.set(stage);
      this.#stage = full;
      this.#stageIsHeader = false;
    }
  }

  #fail(): FatalFrameError {
    this.#failed = true;
    this.#stage = undefined;
    this.#stageFilled = 0;
    this.#pos = this.#chunk.length;
    return {
      kind: "fatal",
      error: new CorruptFrameHeaderError(
        `Cannot decode ${this.kind} frame: header CRC24 mismatch; the stream cannot be trusted`,
      ),
    };
  }

  /** Total frame length from a header at `offset`, or -1 when its CRC24 fails. */
  #frameLengthAt(buf: Uint8Array, offset: number): number {
    if (this.kind === "lz4") {
      const crc = buf[offset + 5]! | (buf[offset + 6]! << 8) | (buf[offset + 7]! << 16);
      if (crc !== crc24(buf, offset, 5)) return -1;
      const compressed = buf[offset]! | (buf[offset + 1]! << 8) | ((buf[offset + 2]! & 1) << 16);
      return LZ4_HEADER_LENGTH + compressed + TRAILER_LENGTH;
    }
    const crc = buf[offset + 3]! | (buf[offset + 4]! << 8) | (buf[offset + 5]! << 16);
    if (crc !== crc24(buf, offset, 3)) return -1;
    const length = buf[offset]! | (buf[offset + 1]! << 8) | ((buf[offset + 2]! & 1) << 16);
    return this.#headerLength + length + this.#trailerLength;
  }

  #decodeFrame(buf: Uint8Array, offset: number, frameLength: number): FrameEvent {
    const payloadStart = offset + this.#headerLength;
    const payloadEnd = offset + frameLength - this.#trailerLength;
    const payload = buf.subarray(payloadStart, payloadEnd);
    if (this.kind === "unprotected") {
      const selfContained = (buf[offset + 2]! & 0x02) !== 0;
      return { kind: "frame", selfContained, payload, wireLength: frameLength };
    }
    const expected = (buf[payloadEnd]! | (buf[payloadEnd + 1]! << 8) |
      (buf[payloadEnd + 2]! << 16) | (buf[payloadEnd + 3]! << 24)) >>> 0;
    const actual = seededCrc32(payload);
    if (this.kind === "crc") {
      const selfContained = (buf[offset + 2]! & 0x02) !== 0;
      if (actual !== expected) {
        return this.#corrupt(selfContained, frameLength, payload.length, "payload CRC32 mismatch");
      }
      return { kind: "frame", selfContained, payload, wireLength: frameLength };
    }
    const selfContained = (buf[offset + 4]! & 0x04) !== 0;
    const uncompressed = (buf[offset + 2]! >>> 1) | (buf[offset + 3]! << 7) |
      ((buf[offset + 4]! & 3) << 15);
    if (actual !== expected) {
      return this.#corrupt(
        selfContained,
        frameLength,
        uncompressed || payload.length,
        "payload CRC32 mismatch",
      );
    }
    if (uncompressed === 0) {
      return { kind: "frame", selfContained, payload, wireLength: frameLength };
    }
    try {
      const expanded = lz4DecompressBlock(payload, uncompressed);
      return { kind: "frame", selfContained, payload: expanded, wireLength: frameLength };
    } catch (error) {
      if (!(error instanceof CorruptFramePayloadError)) throw error;
      return {
        kind: "corrupt",
        selfContained,
        wireLength: frameLength,
        payloadLength: uncompressed,
        error,
      };
    }
  }

  #corrupt(
    selfContained: boolean,
    wireLength: number,
    payloadLength: number,
    reason: string,
  ): CorruptFrame {
    return {
      kind: "corrupt",
      selfContained,
      wireLength,
      payloadLength,
      error: new CorruptFramePayloadError(`Cannot decode ${this.kind} frame: ${reason}`),
    };
  }
}

/**
 * Decodes exactly one whole frame (for tools and tests).
 * @throws {TruncatedInputError} when `bytes` ends before the frame does
 * @throws {MalformedInputError} when bytes follow the frame
 * @throws {CorruptFrameHeaderError} / {CorruptFramePayloadError} when a check fails
 */
export function decodeSingleFrame(
  kind: FramingKind,
  bytes: Uint8Array,
): { selfContained: boolean; payload: Uint8Array } {
  const decoder = new FrameDecoder(kind);
  decoder.push(bytes);
  const event = decoder.next();
  if (event === undefined) {
    throw new TruncatedInputError(`Cannot decode ${kind} frame: ${bytes.length} bytes end early`);
  }
  if (event.kind !== "frame") throw event.error;
  if (event.wireLength !== bytes.length) {
    throw new MalformedInputError(
      `Cannot decode ${kind} frame: ${bytes.length - event.wireLength} bytes follow the frame`,
    );
  }
  return { selfContained: event.selfContained, payload: event.payload };
}
