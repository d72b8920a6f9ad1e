/**
 * What a message reader yields: whole messages (as byte ranges plus their parsed header, not yet
 * deserialized), the start of a large message, and every way the input can be wrong.
 *
 * Readers reuse their event objects and header: an event is valid until the next call to
 * `next()`. A message's bytes stay valid as long as the chunk they came from.
 *
 * @module
 */

import type { MessageHeader } from "./message_header.ts";
import type { WireError } from "./errors.ts";

/** A complete message: `buf[offset, end)`, with its header already scanned. */
export interface InboundMessage {
  readonly kind: "message";
  /** Header of the message (reused by the reader). */
  readonly header: MessageHeader;
  /** Buffer holding the message. */
  readonly buf: Uint8Array;
  /** Offset of its first byte. */
  readonly offset: number;
  /** Offset just past its last byte. */
  readonly end: number;
}

/**
 * The first bytes of a large message arrived; its size and header are known. The caller may
 * reserve capacity for it, or call `discardLarge()` (expired, unknown verb, no capacity) before
 * its next `next()`, and the reader skips its remaining bytes without buffering them.
 */
export interface LargeMessageBegin {
  readonly kind: "large-begin";
  /** Header of the message. */
  readonly header: MessageHeader;
  /** Whole size of the message in bytes. */
  readonly sizeBytes: number;
}

/** A message larger than the receiver's `internode_max_message_size`; skipped by its size. */
export interface OversizedMessage {
  readonly kind: "oversized";
  /** Its announced size in bytes. */
  readonly sizeBytes: number;
  /** Verb id from its header. */
  readonly verbId: number;
}

/**
 * A frame failed its payload CRC and was skipped; the connection stays up. Every message in it
 * is lost, or (`largeMessageLost`) the large message it belonged to is discarded.
 */
export interface RecoveredCorruption {
  readonly kind: "corrupt-frame";
  /** Bytes skipped on the wire. */
  readonly wireLength: number;
  /** Whether a large message in progress was discarded because of it. */
  readonly largeMessageLost: boolean;
}

/**
 * The content of a trustworthy frame did not parse (a sender bug): the rest of that frame is
 * skipped, the connection stays up.
 */
export interface MalformedFrame {
  readonly kind: "malformed";
  /** What was wrong. */
  readonly error: WireError;
  /** Bytes of the frame that were skipped. */
  readonly skippedBytes: number;
}

/** The stream cannot be trusted any more; the connection must close. */
export interface FatalStreamError {
  readonly kind: "fatal";
  /** What was wrong. */
  readonly error: WireError;
}

/** Every event a message reader yields. */
export type InboundEvent =
  | InboundMessage
  | LargeMessageBegin
  | OversizedMessage
  | RecoveredCorruption
  | MalformedFrame
  | FatalStreamError;

/** The common shape of the framed (v12) and legacy (v11) readers. */
export interface MessageReader {
  /** Hands over the next chunk; only after `next()` returned `undefined`. */
  push(chunk: Uint8Array): void;
  /** The next event, or `undefined` when more bytes are needed. */
  next(): InboundEvent | undefined;
  /** Skips the rest of the large message announced by the last `large-begin`. */
  discardLarge(): void;
  /** Whether a fatal error ended the stream. */
  readonly failed: boolean;
}

/** Options shared by the readers. */
export interface MessageReaderOptions {
  /** Messaging version of the connection. */
  readonly version: number;
  /** `internode_max_message_size`, in bytes. */
  readonly maxMessageSizeBytes: number;
}
