/**
 * Builds what an outbound link writes next (PROTOCOL.md §4, §7): on urgent and small links a
 * self-contained frame packing as many queued messages as fit in 64 KiB; on the large link one
 * message cut into 32 KiB frames laid out in one buffer; at version 11 the legacy stream of
 * messages back to back. Buffers are reused: a link has one write in flight.
 *
 * @module
 */

import { ByteWriter } from "../wire/byte_writer.ts";
import { type FrameEncoder, frameEncoderFor } from "../wire/frame_encoder.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import { VERSION_12 } from "../wire/message.ts";
import { messageSerializedSize, writeMessage } from "../wire/message_codec.ts";
import { SendFailedError } from "./errors.ts";
import type { MessagingConfig } from "./messaging_config.ts";
import type { EstablishedConnection, LinkType } from "./outbound_link.ts";
import type { QueuedMessage } from "./outbound_queue.ts";

/** Largest buffer a large link keeps for reuse between messages: 4 MiB. */
export const REUSED_LARGE_BUFFER_BYTES_MAX = 4 * 1024 * 1024;

/** Most idle small-frame buffers kept for reuse per size (a bound on pooled memory). */
export const FRAME_BUFFER_POOL_SIZE_MAX = 64;

/**
 * Idle small-frame buffers by length, shared by every link of the process: a node with a
 * thousand peers holds buffers only for the links writing now, not one per link.
 */
const FRAME_BUFFER_POOL = new Map<number, Uint8Array[]>();

function takePooledFrameBuffer(bytes: number): Uint8Array {
  return FRAME_BUFFER_POOL.get(bytes)?.pop() ?? new Uint8Array(bytes);
}

/** Where the builder takes messages from: the link's queue. */
export interface FrameSource {
  /** The clock, read once per frame. */
  nowMs(): number;
  /** The next queued message still alive at `nowMs` (the source drops expired ones). */
  next(nowMs: number): QueuedMessage | undefined;
  /** Puts back a message that did not fit in this frame. */
  putBack(item: QueuedMessage): void;
  /** A message that can never be sent (cannot be sized or serialized, too large). */
  fail(item: QueuedMessage, error: Error): void;
}

/** Builds the next write of one link. */
export class OutboundFrameBuilder {
  readonly #type: LinkType;
  readonly #config: MessagingConfig;
  readonly #encodeOptions: { readonly from: InetAddressAndPort };
  #frameBuffer: Uint8Array | undefined;
  /** Large link: reused serialization and framing buffers. */
  #largeScratch: Uint8Array | undefined;
  #largeOut: Uint8Array | undefined;

  /**
   * Gives the small-frame buffer back to the shared pool (the link's queue is empty and its
   * last write finished), so idle links hold no 64 KiB buffer each; a busy link keeps its own.
   */
  releaseFrameBuffer(): void {
    const buffer = this.#frameBuffer;
    if (buffer === undefined) return;
    this.#frameBuffer = undefined;
    const pool = FRAME_BUFFER_POOL.get(buffer.length) ?? [];
    if (pool.length < FRAME_BUFFER_POOL_SIZE_MAX) pool.push(buffer);
    FRAME_BUFFER_POOL.set(buffer.length, pool);
  }

  constructor(type: LinkType, config: MessagingConfig, from: InetAddressAndPort) {
    this.#type = type;
    this.#config = config;
    this.#encodeOptions = { from };
  }

  /**
   * Takes messages from `source` into `batch` and returns the chunks to write (empty when
   * nothing was left to send).
   */
  build(
    established: EstablishedConnection,
    source: FrameSource,
    batch: QueuedMessage[],
  ): Uint8Array[] {
    if (established.version < VERSION_12) return this.#legacyBatch(established, source, batch);
    return this.#type === "large"
      ? this.#largeFrames(established, source, batch)
      : this.#packFrame(established, source, batch);
  }

  /** Packs as many whole messages as fit into one self-contained frame. */
  #packFrame(
    established: EstablishedConnection,
    source: FrameSource,
    batch: QueuedMessage[],
  ): Uint8Array[] {
    const nowMs = source.nowMs();
    const encoder = frameEncoderFor(established.framing);
    const capacity = this.#config.smallFramePayloadBytes;
    const bytes = encoder.headerLength + capacity + encoder.trailerLength;
    let buffer = this.#frameBuffer;
    if (buffer === undefined || buffer.length !== bytes) {
      buffer = takePooledFrameBuffer(bytes);
      this.#frameBuffer = buffer;
    }
    const out = new ByteWriter(buffer, encoder.headerLength, encoder.headerLength + capacity);
    for (let item = source.next(nowMs); item !== undefined; item = source.next(nowMs)) {
      const size = this.#sizeAt(item, established.version, source);
      if (size < 0) continue;
      if (out.pos - encoder.headerLength + size > capacity) {
        if (batch.length === 0) {
          // Only a message over the large threshold can miss an empty frame: routed wrongly.
          source.fail(
            item,
            new SendFailedError(
              `Cannot send ${item.message.verb.name}: ${size} bytes exceed a small frame`,
            ),
          );
          continue;
        }
        source.putBack(item);
        break;
      }
      if (!this.#serialize(item, out, established.version, source)) continue;
      batch.push(item);
    }
    if (batch.length === 0) return [];
    return [seal(encoder, buffer, out.pos - encoder.headerLength, true)];
  }

  /**
   * Serializes one message and cuts it into frames of the large-frame size, laid out in one
   * buffer so the whole message goes out in a single write.
   */
  #largeFrames(
    established: EstablishedConnection,
    source: FrameSource,
    batch: QueuedMessage[],
  ): Uint8Array[] {
    const item = source.next(source.nowMs());
    if (item === undefined) return [];
    const size = this.#sizeAt(item, established.version, source);
    if (size < 0) return [];
    const whole = new ByteWriter(this.#reusable("scratch", size), 0, size);
    if (!this.#serialize(item, whole, established.version, source)) return [];
    batch.push(item);
    const encoder = frameEncoderFor(established.framing);
    const pieceBytes = this.#config.largeFramePayloadBytes;
    const selfContained = size <= pieceBytes;
    if (encoder.kind === "lz4") {
      // LZ4 frames have their own sizes: seal each piece on its own.
      const frames: Uint8Array[] = [];
      for (let offset = 0; offset < size; offset += pieceBytes) {
        const piece = whole.buf.subarray(offset, Math.min(size, offset + pieceBytes));
        const frame = new Uint8Array(encoder.headerLength + piece.length + encoder.trailerLength);
        frame.set(piece, encoder.headerLength);
        frames.push(seal(encoder, frame, piece.length, selfContained));
      }
      return frames;
    }
    const overhead = encoder.headerLength + encoder.trailerLength;
    const pieces = Math.ceil(size / pieceBytes);
    const out = this.#reusable("out", size + pieces * overhead);
    let at = 0;
    for (let offset = 0; offset < size; offset += pieceBytes) {
      const length = Math.min(pieceBytes, size - offset);
      out.set(whole.buf.subarray(offset, offset + length), at + encoder.headerLength);
      at += seal(encoder, out.subarray(at), length, selfContained).length;
    }
    return [out.subarray(0, at)];
  }

  /**
   * A buffer of at least `size` bytes, kept for the next large message when it is no larger
   * than {@link REUSED_LARGE_BUFFER_BYTES_MAX}: fresh megabyte buffers per message cost more in
   * allocation and garbage collection than the copies themselves.
   */
  #reusable(which: "scratch" | "out", size: number): Uint8Array {
    const current = which === "scratch" ? this.#largeScratch : this.#largeOut;
    if (current !== undefined && current.length >= size) return current;
    const buffer = new Uint8Array(size);
    if (size <= REUSED_LARGE_BUFFER_BYTES_MAX) {
      if (which === "scratch") this.#largeScratch = buffer;
      else this.#largeOut = buffer;
    }
    return buffer;
  }

  /** Version 11: messages back to back, up to the small-frame size per write. */
  #legacyBatch(
    established: EstablishedConnection,
    source: FrameSource,
    batch: QueuedMessage[],
  ): Uint8Array[] {
    const nowMs = source.nowMs();
    const capacity = this.#config.smallFramePayloadBytes;
    const out = new ByteWriter(capacity, 0, this.#config.maxMessageSizeBytes + capacity);
    for (let item = source.next(nowMs); item !== undefined; item = source.next(nowMs)) {
      const size = this.#sizeAt(item, established.version, source);
      if (size < 0) continue;
      if (batch.length > 0 && out.pos + size > capacity) {
        source.putBack(item);
        break;
      }
      if (!this.#serialize(item, out, established.version, source)) continue;
      batch.push(item);
      if (this.#type === "large") break;
    }
    return batch.length === 0 ? [] : [out.toBytes()];
  }

  /** Size at the connection's version, or -1 after failing a message that cannot be sized. */
  #sizeAt(item: QueuedMessage, version: number, source: FrameSource): number {
    try {
      const size = version === this.#config.maxVersion
        ? item.sizeBytes
        : messageSerializedSize(item.message, version, this.#encodeOptions);
      if (size > this.#config.maxMessageSizeBytes) {
        source.fail(
          item,
          new SendFailedError(
            `Cannot send ${item.message.verb.name}: ${size} bytes exceed the maximum message size`,
          ),
        );
        return -1;
      }
      return size;
    } catch (cause) {
      source.fail(
        item,
        new SendFailedError(`Cannot serialize ${item.message.verb.name}`, { cause }),
      );
      return -1;
    }
  }

  /** Writes one message; on a serializer error rolls the writer back and fails the message. */
  #serialize(
    item: QueuedMessage,
    out: ByteWriter,
    version: number,
    source: FrameSource,
  ): boolean {
    const start = out.pos;
    try {
      writeMessage(item.message, out, version, this.#encodeOptions);
      return true;
    } catch (cause) {
      out.pos = start;
      source.fail(
        item,
        new SendFailedError(`Cannot serialize ${item.message.verb.name}`, { cause }),
      );
      return false;
    }
  }
}

function seal(encoder: FrameEncoder, buffer: Uint8Array, length: number, selfContained: boolean) {
  return encoder.seal(buffer, length, selfContained);
}
