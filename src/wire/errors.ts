/**
 * Errors of the wire layer: every way bytes from a peer can be wrong.
 *
 * All are operating errors (bad input), never programmer errors: a node that meets one reports
 * it, counts it and keeps running. Messages follow "Cannot <action>: <reason>".
 *
 * @module
 */

/** Base class of every error raised while reading or writing wire bytes. */
export class WireError extends Error {
  override name = "WireError";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** The input ended before a complete value: a truncated field, message or file. */
export class TruncatedInputError extends WireError {
  override name = "TruncatedInputError";
}

/** A field holds a value the format does not allow (bad length byte, negative size...). */
export class MalformedInputError extends WireError {
  override name = "MalformedInputError";
}

/** A vint holds a value too large for the requested representation. */
export class VintOverflowError extends WireError {
  override name = "VintOverflowError";
}

/** A frame header failed its CRC24: the frame length cannot be trusted, the stream is lost. */
export class CorruptFrameHeaderError extends WireError {
  override name = "CorruptFrameHeaderError";
}

/** A frame payload failed its CRC32 (or LZ4 decompression): only that frame is lost. */
export class CorruptFramePayloadError extends WireError {
  override name = "CorruptFramePayloadError";
}

/** A frame payload is larger than the framing allows (131071 bytes). */
export class FrameTooLargeError extends WireError {
  override name = "FrameTooLargeError";
}

/** A message is larger than `internode_max_message_size` allows. */
export class MessageTooLargeError extends WireError {
  override name = "MessageTooLargeError";
  /** Total serialized size of the refused message, in bytes. */
  readonly sizeBytes: number;
  /** The limit it broke, in bytes. */
  readonly limitBytes: number;
  constructor(sizeBytes: number, limitBytes: number, options?: ErrorOptions) {
    super(
      `Cannot accept message: its size ${sizeBytes} bytes exceeds the maximum of ${limitBytes} bytes`,
      options,
    );
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
  }
}

/** A legacy message or a handshake did not start with the protocol magic `CA 55 2D FA`. */
export class InvalidMagicError extends WireError {
  override name = "InvalidMagicError";
}

/** A handshake message failed its CRC, or carried impossible fields. */
export class HandshakeError extends WireError {
  override name = "HandshakeError";
}

/** The two ends of a connection accept no messaging version in common. */
export class IncompatibleVersionError extends HandshakeError {
  override name = "IncompatibleVersionError";
}

/** A message names a verb id that this node does not know. */
export class UnknownVerbError extends WireError {
  override name = "UnknownVerbError";
  /** The verb id read from the wire. */
  readonly verbId: number;
  constructor(verbId: number, options?: ErrorOptions) {
    super(`Cannot handle message: unknown verb id ${verbId}`, options);
    this.verbId = verbId;
  }
}

/** A hint file entry is damaged: a bad size CRC ends the file, a bad body CRC skips the hint. */
export class CorruptHintError extends WireError {
  override name = "CorruptHintError";
}
