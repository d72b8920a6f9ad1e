/**
 * Hint file entries and hint bodies (PROTOCOL.md §11).
 *
 * An entry is `size` int · plain CRC32 of the 4 size bytes · body · plain CRC32 continued over
 * the size bytes and the body, all big-endian. The size has its own CRC because a damaged size
 * cannot be skipped over: {@link readHintEntry} then reports `corrupt-size` and the rest of the
 * file is lost, while a damaged body only loses that hint (`corrupt-body` says where the next
 * entry starts). The reader is incremental: a partly written tail reads as `need-more`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHintBody, encodeHintBody, encodeHintEntry, readHintEntry } from "./hint_entry.ts";
 * const body = encodeHintBody({ creationTimeMs: 1700000000000, gcGraceSeconds: 864000,
 *   mutation: Uint8Array.of(1, 2, 3) });
 * const file = encodeHintEntry(body);
 * assert.equal(readHintEntry(file.subarray(0, 10), 0).kind, "need-more");
 * const read = readHintEntry(file, 0);
 * assert(read.kind === "entry" && read.nextOffset === file.length);
 * assert.equal(decodeHintBody(read.body).gcGraceSeconds, 864000);
 * ```
 *
 * @module
 */

import { ByteReader } from "./byte_reader.ts";
import { ByteWriter } from "./byte_writer.ts";
import { crc32 } from "./crc32.ts";
import { CorruptHintError } from "./errors.ts";
import { unsignedVintSize } from "./vint.ts";

/** Bytes an entry adds around its body: size, size CRC and body CRC (Cassandra's 12). */
export const HINT_ENTRY_OVERHEAD_BYTES = 12;

/** Default bound on one hint body: 128 MiB, the default `max_hints_file_size_in_mb`. */
export const DEFAULT_MAX_HINT_SIZE_BYTES: number = 128 * 1024 * 1024;

/** Bounds for reading and writing hint entries. */
export interface HintEntryOptions {
  /** Largest body accepted; a larger size reads as a corrupt size. Default 128 MiB. */
  readonly maxHintSizeBytes?: number;
}

/** What {@link readHintEntry} found at an offset. */
export type HintEntryRead =
  | {
    /** Not enough bytes yet; `needBytes` from the offset are required to get further. */
    readonly kind: "need-more";
    readonly needBytes: number;
  }
  | {
    /** A whole, verified entry; `body` is a view into the input. */
    readonly kind: "entry";
    readonly body: Uint8Array;
    readonly nextOffset: number;
  }
  | {
    /** Size 0 with a zero CRC, and only zeros after it: the unwritten tail of the file. */
    readonly kind: "eof";
  }
  | {
    /** The size failed its CRC or its bound: nothing after it can be trusted; end the file. */
    readonly kind: "corrupt-size";
    readonly error: CorruptHintError;
  }
  | {
    /** The body failed its CRC: skip this hint and continue at `nextOffset`. */
    readonly kind: "corrupt-body";
    readonly error: CorruptHintError;
    readonly nextOffset: number;
  };

/** Encodes one hint file entry around `body`. */
export function encodeHintEntry(body: Uint8Array, options: HintEntryOptions = {}): Uint8Array {
  const maxHintSizeBytes = options.maxHintSizeBytes ?? DEFAULT_MAX_HINT_SIZE_BYTES;
  if (body.length > maxHintSizeBytes) {
    throw new RangeError(
      `Cannot write hint: its ${body.length} bytes exceed the maximum of ${maxHintSizeBytes} bytes`,
    );
  }
  const size = HINT_ENTRY_OVERHEAD_BYTES + body.length;
  const out = new ByteWriter(size, 0, size);
  out.writeInt32(body.length);
  const sizeCrc = crc32(out.buf.subarray(0, 4));
  out.writeInt32(sizeCrc);
  out.writeBytes(body);
  out.writeInt32(crc32(body, sizeCrc));
  return out.buf;
}

function readUint32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) |
    buf[offset + 3]!) >>> 0;
}

function allZero(buf: Uint8Array, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Reads the entry starting at `offset` in `buf` (the bytes of a hint file read so far).
 * Never throws on bad input: damage comes back as `corrupt-size` or `corrupt-body`.
 */
export function readHintEntry(
  buf: Uint8Array,
  offset: number,
  options: HintEntryOptions = {},
): HintEntryRead {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset > buf.length) {
    throw new RangeError(`Cannot read hint entry: offset ${offset} is outside 0..${buf.length}`);
  }
  const maxHintSizeBytes = options.maxHintSizeBytes ?? DEFAULT_MAX_HINT_SIZE_BYTES;
  if (buf.length - offset < 8) return { kind: "need-more", needBytes: 8 };
  const size = readUint32(buf, offset);
  const storedSizeCrc = readUint32(buf, offset + 4);
  // A real size-0 entry carries crc32(00 00 00 00) != 0, so all zeros can only be padding.
  if (size === 0 && storedSizeCrc === 0 && allZero(buf, offset + 8)) return { kind: "eof" };
  const sizeCrc = crc32(buf.subarray(offset, offset + 4));
  if (sizeCrc !== storedSizeCrc) {
    return {
      kind: "corrupt-size",
      error: new CorruptHintError(
        `Cannot read hint entry at offset ${offset}: size CRC mismatch, the rest of the file is lost`,
      ),
    };
  }
  if (size > maxHintSizeBytes) {
    // Also catches a negative Java int (read unsigned here): never a length to wait for.
    return {
      kind: "corrupt-size",
      error: new CorruptHintError(
        `Cannot read hint entry at offset ${offset}: size ${size} exceeds the maximum of ` +
          `${maxHintSizeBytes} bytes`,
      ),
    };
  }
  const entryBytes = HINT_ENTRY_OVERHEAD_BYTES + size;
  if (buf.length - offset < entryBytes) return { kind: "need-more", needBytes: entryBytes };
  const body = buf.subarray(offset + 8, offset + 8 + size);
  const nextOffset = offset + entryBytes;
  if (crc32(body, sizeCrc) !== readUint32(buf, offset + 8 + size)) {
    return {
      kind: "corrupt-body",
      error: new CorruptHintError(
        `Cannot read hint at offset ${offset}: body CRC mismatch, skipping ${size} bytes`,
      ),
      nextOffset,
    };
  }
  return { kind: "entry", body, nextOffset };
}

/** A hint: the mutation to replay and when it stops being worth replaying. */
export interface HintBody {
  /** When the hint was written, in ms since the epoch. */
  readonly creationTimeMs: number;
  /** gc grace of the mutation's tables, in seconds: the hint's time to live. */
  readonly gcGraceSeconds: number;
  /** The mutation, serialized at the file's messaging version by a higher layer. */
  readonly mutation: Uint8Array;
}

/** Size in bytes of {@link encodeHintBody}'s output. */
export function hintBodySize(hint: HintBody): number {
  return 8 + unsignedVintSize(hint.gcGraceSeconds) + hint.mutation.length;
}

/** Encodes a hint body: creation time long (ms), gc grace uvint (s), mutation bytes. */
export function encodeHintBody(hint: HintBody): Uint8Array {
  if (!Number.isSafeInteger(hint.creationTimeMs)) {
    throw new RangeError(
      `Cannot write hint: creation time ${hint.creationTimeMs} is not an integer`,
    );
  }
  if (!Number.isSafeInteger(hint.gcGraceSeconds) || hint.gcGraceSeconds < 0) {
    throw new RangeError(`Cannot write hint: gc grace ${hint.gcGraceSeconds} is not a uvint`);
  }
  const size = hintBodySize(hint);
  const out = new ByteWriter(size, 0, size);
  out.writeInt64Number(hint.creationTimeMs);
  out.writeUnsignedVint(hint.gcGraceSeconds);
  out.writeBytes(hint.mutation);
  return out.buf;
}

/**
 * Decodes a hint body; `mutation` is a view of the rest of `body`.
 * @throws {TruncatedInputError} / {MalformedInputError} on a short or impossible body
 */
export function decodeHintBody(body: Uint8Array): HintBody {
  const input = new ByteReader(body);
  const creationTimeMs = input.readInt64Number("hint creation time");
  const gcGraceSeconds = input.readUnsignedVint("hint gc grace");
  const mutation = input.readBytes(input.remaining, "hint mutation");
  return { creationTimeMs, gcGraceSeconds, mutation };
}
