/**
 * A UUID as Ringwire sends it: 16 bytes, the most significant 64 bits first, then the least
 * significant (Java's `UUID` serializer), at every messaging version.
 *
 * The wire layer has no randomness of its own (STYLE.md rule 4): {@link Uuid.randomV4} takes 16
 * random bytes from the caller's `Random`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deserializePayload, serializePayload } from "./payload_serializer.ts";
 * import { Uuid, uuidSerializer } from "./uuid.ts";
 * const id = Uuid.parse("123E4567-e89b-42d3-a456-426614174000");
 * assert.equal(id.toString(), "123e4567-e89b-42d3-a456-426614174000");
 * const bytes = serializePayload(uuidSerializer, id, 12);
 * assert.equal(bytes[0], 0x12);
 * assert(deserializePayload(uuidSerializer, bytes, 12).equals(id));
 * const random = Uuid.randomV4(new Uint8Array(16).fill(0xff));
 * assert.equal(random.version, 4);
 * ```
 *
 * @module
 */

import type { ByteReader } from "./byte_reader.ts";
import type { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";
import type { PayloadSerializer } from "./payload_serializer.ts";

/** Size of a serialized UUID. */
export const UUID_SIZE_BYTES = 16;

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An immutable 128-bit UUID, held as two unsigned 64-bit halves. */
export class Uuid {
  /** The all-zero UUID. */
  static readonly NIL: Uuid = new Uuid(0n, 0n);

  /** Most significant 64 bits, unsigned (Java's signed `long` has the same bits). */
  readonly msb: bigint;
  /** Least significant 64 bits, unsigned. */
  readonly lsb: bigint;

  /** Builds a UUID from its halves; each must be an unsigned 64-bit value. */
  constructor(msb: bigint, lsb: bigint) {
    if (BigInt.asUintN(64, msb) !== msb || BigInt.asUintN(64, lsb) !== lsb) {
      throw new RangeError(`Cannot make UUID: ${msb}, ${lsb} are not unsigned 64-bit values`);
    }
    this.msb = msb;
    this.lsb = lsb;
    Object.freeze(this);
  }

  /**
   * Parses the canonical form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (any case).
   * @throws {MalformedInputError} for any other text
   */
  static parse(text: string): Uuid {
    if (!CANONICAL.test(text)) {
      throw new MalformedInputError(`Cannot parse UUID: "${text}" is not in canonical form`);
    }
    const hex = text.replaceAll("-", "");
    return new Uuid(BigInt(`0x${hex.slice(0, 16)}`), BigInt(`0x${hex.slice(16)}`));
  }

  /** The UUID whose 16 big-endian bytes these are. */
  static fromBytes(bytes: Uint8Array): Uuid {
    if (bytes.length !== UUID_SIZE_BYTES) {
      throw new RangeError(`Cannot make UUID: ${bytes.length} bytes given, 16 needed`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Uuid(view.getBigUint64(0), view.getBigUint64(8));
  }

  /**
   * A random (version 4, RFC 4122 variant) UUID made from 16 caller-supplied random bytes
   * (`random.fill(new Uint8Array(16))`); 122 of their bits are kept. The input is not changed.
   */
  static randomV4(randomBytes: Uint8Array): Uuid {
    const bytes = Uint8Array.from(randomBytes);
    if (bytes.length !== UUID_SIZE_BYTES) {
      throw new RangeError(`Cannot make UUID: ${bytes.length} random bytes given, 16 needed`);
    }
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    return Uuid.fromBytes(bytes);
  }

  /** The version nibble (4 for random UUIDs, 1 for time-based). */
  get version(): number {
    return Number((this.msb >> 12n) & 0xfn);
  }

  /** The 16 big-endian bytes (a new array). */
  toBytes(): Uint8Array {
    const bytes = new Uint8Array(UUID_SIZE_BYTES);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, this.msb);
    view.setBigUint64(8, this.lsb);
    return bytes;
  }

  /** Whether `other` is the same UUID. */
  equals(other: Uuid): boolean {
    return this.msb === other.msb && this.lsb === other.lsb;
  }

  /** The canonical lower-case form: the key to use in maps and JSON. */
  toString(): string {
    const hex = ((this.msb << 64n) | this.lsb).toString(16).padStart(32, "0");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
      hex.slice(20)
    }`;
  }

  /** JSON form: the canonical string. */
  toJSON(): string {
    return this.toString();
  }
}

/** Writes a UUID's 16 bytes. */
export function writeUuid(value: Uuid, out: ByteWriter): void {
  out.writeInt64(BigInt.asIntN(64, value.msb));
  out.writeInt64(BigInt.asIntN(64, value.lsb));
}

/** Reads a UUID's 16 bytes. */
export function readUuid(input: ByteReader, what = "UUID"): Uuid {
  input.need(UUID_SIZE_BYTES, what);
  const msb = BigInt.asUintN(64, input.readInt64(what));
  return new Uuid(msb, BigInt.asUintN(64, input.readInt64(what)));
}

/** A UUID as a whole payload (16 bytes, the same at every version). */
export const uuidSerializer: PayloadSerializer<Uuid> = Object.freeze({
  serializedSize: () => UUID_SIZE_BYTES,
  write: (value: Uuid, out: ByteWriter) => writeUuid(value, out),
  read: (input: ByteReader) => readUuid(input),
});
