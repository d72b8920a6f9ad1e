/**
 * A cursor that writes big-endian fields and vints into a byte buffer, growing it up to a bound.
 *
 * Payload serializers write through it. Sized writers (from `serializedSize`) never grow; the
 * growable form refuses to pass `maxCapacityBytes`, so a runaway serializer fails loudly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ByteWriter } from "./byte_writer.ts";
 * const out = new ByteWriter(8);
 * out.writeInt32(0xca552dfa);
 * out.writeUnsignedVint(300);
 * assert(out.toBytes().length === 6);
 * ```
 *
 * @module
 */

import {
  unsignedVintSize,
  unsignedVintSizeBig,
  writeSignedVintBig,
  writeUnsignedVint,
  writeUnsignedVintBig,
  zigzagEncodeBig,
} from "./vint.ts";

const textEncoder = new TextEncoder();

/** Default bound on how large a growable {@link ByteWriter} may become: 128 MiB. */
export const DEFAULT_MAX_WRITER_CAPACITY_BYTES = 128 * 1024 * 1024;

/** Writes fields at a moving offset into a buffer (its own, or one supplied). */
export class ByteWriter {
  /** The buffer written into; replaced when it grows. */
  buf: Uint8Array;
  /** Offset of the next byte to write. */
  pos: number;
  #view: DataView;
  readonly #maxCapacityBytes: number;

  /**
   * @param initial a capacity in bytes, or a buffer to write into (from `offset`)
   * @param offset where writing starts in a supplied buffer
   * @param maxCapacityBytes bound on growth
   */
  constructor(
    initial: number | Uint8Array = 256,
    offset = 0,
    maxCapacityBytes = DEFAULT_MAX_WRITER_CAPACITY_BYTES,
  ) {
    this.buf = typeof initial === "number" ? new Uint8Array(initial) : initial;
    this.pos = offset;
    this.#view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.#maxCapacityBytes = maxCapacityBytes;
  }

  /** Makes room for `n` more bytes, growing (by doubling) within the capacity bound. */
  ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buf.length) return;
    if (needed > this.#maxCapacityBytes) {
      throw new RangeError(
        `Cannot write ${n} bytes: the writer would pass its bound of ${this.#maxCapacityBytes} bytes`,
      );
    }
    const grown = new Uint8Array(
      Math.min(this.#maxCapacityBytes, Math.max(needed, this.buf.length * 2)),
    );
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
    this.#view = new DataView(grown.buffer);
  }

  /** Writes one byte. */
  writeUint8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  /** Writes a big-endian 16-bit unsigned integer. */
  writeUint16(value: number): void {
    this.ensure(2);
    this.#view.setUint16(this.pos, value);
    this.pos += 2;
  }

  /** Writes a big-endian 32-bit integer (signed or unsigned input, same bits). */
  writeInt32(value: number): void {
    this.ensure(4);
    this.#view.setUint32(this.pos, value >>> 0);
    this.pos += 4;
  }

  /** Writes a big-endian signed 64-bit integer. */
  writeInt64(value: bigint): void {
    this.ensure(8);
    this.#view.setBigInt64(this.pos, value);
    this.pos += 8;
  }

  /** Writes a safe integer as a big-endian signed 64-bit integer. */
  writeInt64Number(value: number): void {
    this.writeInt64(BigInt(value));
  }

  /** Writes an unsigned vint (a non-negative safe integer). */
  writeUnsignedVint(value: number): void {
    if (this.pos + 9 > this.buf.length) this.ensure(unsignedVintSize(value));
    this.pos = writeUnsignedVint(this.buf, this.pos, value);
  }

  /** Writes an unsigned vint from a `bigint` in the unsigned 64-bit range. */
  writeUnsignedVintBig(value: bigint): void {
    this.ensure(unsignedVintSizeBig(value));
    this.pos = writeUnsignedVintBig(this.buf, this.pos, value);
  }

  /** Writes a signed vint from a signed 64-bit `bigint`. */
  writeSignedVintBig(value: bigint): void {
    this.ensure(unsignedVintSizeBig(zigzagEncodeBig(value)));
    this.pos = writeSignedVintBig(this.buf, this.pos, value);
  }

  /** Writes raw bytes. */
  writeBytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Writes a uvint length then the bytes. */
  writeBytesWithVintLength(bytes: Uint8Array): void {
    this.writeUnsignedVint(bytes.length);
    this.writeBytes(bytes);
  }

  /** Writes a UTF-8 string as a 2-byte length then its bytes (Java's `writeUTF` for ASCII). */
  writeUtf16Length(value: string): void {
    const bytes = textEncoder.encode(value);
    if (bytes.length > 0xffff) {
      throw new RangeError(`Cannot write string: ${bytes.length} bytes exceed the 65535 limit`);
    }
    this.writeUint16(bytes.length);
    this.writeBytes(bytes);
  }

  /** Writes a UTF-8 string as a uvint length then its bytes. */
  writeStringWithVintLength(value: string): void {
    this.writeBytesWithVintLength(textEncoder.encode(value));
  }

  /** The bytes written so far (a view, not a copy). */
  toBytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}
