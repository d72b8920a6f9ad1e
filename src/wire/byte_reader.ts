/**
 * A bounds-checked cursor over a byte buffer: big-endian fields and vints.
 *
 * Every read past the end throws {@link TruncatedInputError} naming what was being read, so a
 * payload serializer never reads garbage beyond its message and never throws a bare RangeError.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteReader } from "./byte_reader.ts";
 * const input = new ByteReader(Uint8Array.of(0x00, 0x00, 0x01, 0x00, 0x80, 0x80));
 * assert(input.readInt32() === 256);
 * assert(input.readUnsignedVint() === 128);
 * assert(input.remaining === 0);
 * ```
 *
 * @module
 */

import { MalformedInputError, TruncatedInputError } from "./errors.ts";
import {
  getUnsignedVint,
  getUnsignedVintBig,
  vintExtraBytes,
  vintLengthAt,
  zigzagDecodeBig,
} from "./vint.ts";

// ignoreBOM: a value that starts with U+FEFF keeps it (the default would strip it silently).
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Reads fields at a moving offset, never past `limit`. */
export class ByteReader {
  /** The buffer read from. */
  buf: Uint8Array;
  /** Offset of the next byte to read. */
  pos: number;
  /** Offset just past the last readable byte. */
  limit: number;
  #dataView: DataView | undefined;

  constructor(buf: Uint8Array, offset = 0, limit: number = buf.length) {
    this.buf = buf;
    this.pos = offset;
    this.limit = limit;
  }

  /** Points the reader at another range, so one reader can serve many messages. */
  reset(buf: Uint8Array, offset: number, limit: number): void {
    if (buf !== this.buf) this.#dataView = undefined;
    this.buf = buf;
    this.pos = offset;
    this.limit = limit;
  }

  /** The DataView for fixed-width reads, made on first use (raw-bytes readers never need it). */
  get #view(): DataView {
    return this.#dataView ??= new DataView(
      this.buf.buffer,
      this.buf.byteOffset,
      this.buf.byteLength,
    );
  }

  /** Bytes left before the limit. */
  get remaining(): number {
    return this.limit - this.pos;
  }

  /** Throws unless `n` more bytes are readable. */
  need(n: number, what: string): void {
    if (this.pos + n > this.limit) {
      throw new TruncatedInputError(
        `Cannot read ${what}: need ${n} bytes at offset ${this.pos}, have ${this.limit - this.pos}`,
      );
    }
  }

  /** Reads one byte. */
  readUint8(what = "byte"): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  /** Reads a big-endian unsigned 16-bit integer. */
  readUint16(what = "short"): number {
    this.need(2, what);
    const value = this.#view.getUint16(this.pos);
    this.pos += 2;
    return value;
  }

  /** Reads a big-endian signed 32-bit integer. */
  readInt32(what = "int"): number {
    this.need(4, what);
    const value = this.#view.getInt32(this.pos);
    this.pos += 4;
    return value;
  }

  /** Reads a big-endian unsigned 32-bit integer. */
  readUint32(what = "int"): number {
    this.need(4, what);
    const value = this.#view.getUint32(this.pos);
    this.pos += 4;
    return value;
  }

  /** Reads a big-endian signed 64-bit integer. */
  readInt64(what = "long"): bigint {
    this.need(8, what);
    const value = this.#view.getBigInt64(this.pos);
    this.pos += 8;
    return value;
  }

  /** Reads a big-endian signed 64-bit integer that must be a safe integer. */
  readInt64Number(what = "long"): number {
    const value = this.readInt64(what);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new MalformedInputError(`Cannot read ${what}: ${value} is not a safe integer`);
    }
    return Number(value);
  }

  /** Reads an unsigned vint as a safe integer. */
  readUnsignedVint(what = "vint"): number {
    const length = this.#vintLength(what);
    const value = getUnsignedVint(this.buf, this.pos);
    this.pos += length;
    return value;
  }

  /** Reads an unsigned vint as a `bigint`. */
  readUnsignedVintBig(what = "vint"): bigint {
    const length = this.#vintLength(what);
    const value = getUnsignedVintBig(this.buf, this.pos);
    this.pos += length;
    return value;
  }

  /** Reads a signed vint as a signed 64-bit `bigint`. */
  readSignedVintBig(what = "vint"): bigint {
    return zigzagDecodeBig(this.readUnsignedVintBig(what));
  }

  /** Reads `n` raw bytes as a view into the buffer (no copy). */
  readBytes(n: number, what = "bytes"): Uint8Array {
    if (n < 0) throw new MalformedInputError(`Cannot read ${what}: negative length ${n}`);
    this.need(n, what);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return bytes;
  }

  /** Reads a uvint length then that many bytes (a view). */
  readBytesWithVintLength(what = "bytes"): Uint8Array {
    return this.readBytes(this.readUnsignedVint(`${what} length`), what);
  }

  /** Reads a 2-byte length then a UTF-8 string (Java's `readUTF` for ASCII). */
  readUtf16Length(what = "string"): string {
    return this.#decode(this.readBytes(this.readUint16(`${what} length`), what), what);
  }

  /** Reads a uvint length then a UTF-8 string. */
  readStringWithVintLength(what = "string"): string {
    return this.#decode(this.readBytesWithVintLength(what), what);
  }

  /** Skips `n` bytes. */
  skip(n: number, what = "bytes"): void {
    this.need(n, what);
    this.pos += n;
  }

  #vintLength(what: string): number {
    const length = vintLengthAt(this.buf, this.pos, this.limit);
    if (length < 0) {
      this.need(this.pos < this.limit ? 1 + vintExtraBytes(this.buf[this.pos]!) : 1, what);
    }
    return length;
  }

  #decode(bytes: Uint8Array, what: string): string {
    try {
      return textDecoder.decode(bytes);
    } catch (cause) {
      throw new MalformedInputError(`Cannot read ${what}: invalid UTF-8`, { cause });
    }
  }
}
