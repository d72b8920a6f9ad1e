/**
 * Frame encoders for messaging version 12 (PROTOCOL.md §4): CRC, LZ4 and Unprotected frames.
 *
 * Writers reserve {@link FrameEncoder.headerLength} bytes, serialize messages straight into the
 * payload area, then {@link FrameEncoder.seal} the frame: the CRC and Unprotected framings write
 * header and trailer in place (no copy); LZ4 compresses into a new buffer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCrcFrame } from "./frame_encoder.ts";
 * const frame = encodeCrcFrame(new TextEncoder().encode("hello"), true);
 * // 05 00 02 19 99 9a 68 65 6c 6c 6f 74 80 0e b6
 * assert(frame.length === 15 && frame[3] === 0x19 && frame[14] === 0xb6);
 * ```
 *
 * @module
 */

import { crc24 } from "./crc24.ts";
import { seededCrc32 } from "./crc32.ts";
import { FrameTooLargeError } from "./errors.ts";
import { lz4CompressBlock } from "./lz4.ts";

/** Largest payload a frame may carry: 2^17 - 1 bytes. */
export const MAX_FRAME_PAYLOAD_BYTES = 131071;

/** Header length of CRC and Unprotected frames. */
export const CRC_HEADER_LENGTH = 6;
/** Header length of LZ4 frames. */
export const LZ4_HEADER_LENGTH = 8;
/** Trailer length of CRC and LZ4 frames (the payload's seeded CRC32). */
export const TRAILER_LENGTH = 4;

/** The three framings of version 12. */
export type FramingKind = "crc" | "lz4" | "unprotected";

/** Builds frames of one framing around payloads written in place. */
export interface FrameEncoder {
  /** Which framing this is. */
  readonly kind: FramingKind;
  /** Bytes to reserve before the payload. */
  readonly headerLength: number;
  /** Bytes to leave free after the payload. */
  readonly trailerLength: number;
  /**
   * Completes a frame whose payload was written at `buf[headerLength, headerLength + length)`.
   * @returns the whole frame (a view of `buf`, or a new buffer for LZ4)
   * @throws {FrameTooLargeError} when `payloadLength` exceeds {@link MAX_FRAME_PAYLOAD_BYTES}
   */
  seal(buf: Uint8Array, payloadLength: number, selfContained: boolean): Uint8Array;
}

function checkPayloadLength(length: number): void {
  if (length > MAX_FRAME_PAYLOAD_BYTES || length < 0) {
    throw new FrameTooLargeError(
      `Cannot frame payload: ${length} bytes exceeds the maximum of ${MAX_FRAME_PAYLOAD_BYTES}`,
    );
  }
}

/** Writes the 6-byte CRC/Unprotected header at `offset`. */
export function writeCrcFrameHeader(
  buf: Uint8Array,
  offset: number,
  payloadLength: number,
  selfContained: boolean,
): void {
  checkPayloadLength(payloadLength);
  buf[offset] = payloadLength & 0xff;
  buf[offset + 1] = (payloadLength >>> 8) & 0xff;
  buf[offset + 2] = ((payloadLength >>> 16) & 1) | (selfContained ? 0x02 : 0);
  const crc = crc24(buf, offset, 3);
  buf[offset + 3] = crc & 0xff;
  buf[offset + 4] = (crc >>> 8) & 0xff;
  buf[offset + 5] = crc >>> 16;
}

/** Writes the 8-byte LZ4 header at `offset` (`uncompressedLength` 0 means stored raw). */
export function writeLz4FrameHeader(
  buf: Uint8Array,
  offset: number,
  compressedLength: number,
  uncompressedLength: number,
  selfContained: boolean,
): void {
  checkPayloadLength(compressedLength);
  checkPayloadLength(uncompressedLength);
  buf[offset] = compressedLength & 0xff;
  buf[offset + 1] = (compressedLength >>> 8) & 0xff;
  buf[offset + 2] = ((compressedLength >>> 16) & 1) | ((uncompressedLength & 0x7f) << 1);
  buf[offset + 3] = (uncompressedLength >>> 7) & 0xff;
  buf[offset + 4] = ((uncompressedLength >>> 15) & 3) | (selfContained ? 0x04 : 0);
  const crc = crc24(buf, offset, 5);
  buf[offset + 5] = crc & 0xff;
  buf[offset + 6] = (crc >>> 8) & 0xff;
  buf[offset + 7] = crc >>> 16;
}

function writeTrailer(buf: Uint8Array, offset: number, crc: number): void {
  buf[offset] = crc & 0xff;
  buf[offset + 1] = (crc >>> 8) & 0xff;
  buf[offset + 2] = (crc >>> 16) & 0xff;
  buf[offset + 3] = crc >>> 24;
}

/** CRC framing: 6-byte header, payload, seeded CRC32 trailer (the default). */
export const crcFrameEncoder: FrameEncoder = {
  kind: "crc",
  headerLength: CRC_HEADER_LENGTH,
  trailerLength: TRAILER_LENGTH,
  seal(buf, payloadLength, selfContained) {
    writeCrcFrameHeader(buf, 0, payloadLength, selfContained);
    const end = CRC_HEADER_LENGTH + payloadLength;
    writeTrailer(buf, end, seededCrc32(buf.subarray(CRC_HEADER_LENGTH, end)));
    return buf.subarray(0, end + TRAILER_LENGTH);
  },
};

/** Unprotected framing: the CRC header and no trailer, for trusted transports only. */
export const unprotectedFrameEncoder: FrameEncoder = {
  kind: "unprotected",
  headerLength: CRC_HEADER_LENGTH,
  trailerLength: 0,
  seal(buf, payloadLength, selfContained) {
    writeCrcFrameHeader(buf, 0, payloadLength, selfContained);
    return buf.subarray(0, CRC_HEADER_LENGTH + payloadLength);
  },
};

/**
 * LZ4 framing: 8-byte header, a raw LZ4 block (or the payload stored raw when compression does
 * not shrink it), seeded CRC32 of the wire payload.
 */
export const lz4FrameEncoder: FrameEncoder = {
  kind: "lz4",
  headerLength: LZ4_HEADER_LENGTH,
  trailerLength: TRAILER_LENGTH,
  seal(buf, payloadLength, selfContained) {
    checkPayloadLength(payloadLength);
    const payload = buf.subarray(LZ4_HEADER_LENGTH, LZ4_HEADER_LENGTH + payloadLength);
    const block = payloadLength === 0 ? payload : lz4CompressBlock(payload);
    if (block.length >= payloadLength) {
      // Stored raw: header says uncompressed length 0; the payload is already in place.
      writeLz4FrameHeader(buf, 0, payloadLength, 0, selfContained);
      const end = LZ4_HEADER_LENGTH + payloadLength;
      writeTrailer(buf, end, seededCrc32(payload));
      return buf.subarray(0, end + TRAILER_LENGTH);
    }
    const frame = new Uint8Array(LZ4_HEADER_LENGTH + block.length + TRAILER_LENGTH);
    writeLz4FrameHeader(frame, 0, block.length, payloadLength, selfContained);
    frame.set(block, LZ4_HEADER_LENGTH);
    writeTrailer(frame, LZ4_HEADER_LENGTH + block.length, seededCrc32(block));
    return frame;
  },
};

/** The encoder of a framing. */
export function frameEncoderFor(kind: FramingKind): FrameEncoder {
  switch (kind) {
    case "crc":
      return crcFrameEncoder;
    case "lz4":
      return lz4FrameEncoder;
    case "unprotected":
      return unprotectedFrameEncoder;
  }
}

/** Encodes `payload` as one frame of `encoder`'s framing (allocates; for tests and tools). */
export function encodeFrame(
  encoder: FrameEncoder,
  payload: Uint8Array,
  selfContained: boolean,
): Uint8Array {
  checkPayloadLength(payload.length);
  const buf = new Uint8Array(encoder.headerLength + payload.length + encoder.trailerLength);
  buf.set(payload, encoder.headerLength);
  return encoder.seal(buf, payload.length, selfContained);
}

/** Encodes `payload` as one CRC frame. */
export function encodeCrcFrame(payload: Uint8Array, selfContained: boolean): Uint8Array {
  return encodeFrame(crcFrameEncoder, payload, selfContained);
}
