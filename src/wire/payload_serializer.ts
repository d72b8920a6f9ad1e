/**
 * The versioned payload serializer every verb has (PROTOCOL.md §8): how a message body of one
 * verb is written and read at a given messaging version.
 *
 * Serializers implement `write`/`read`/`serializedSize` against {@link ByteWriter} and
 * {@link ByteReader}; {@link serializePayload} and {@link deserializePayload} are the
 * whole-buffer forms. A serializer must read exactly what it wrote and throw a
 * {@link WireError} subclass (never a bare error) on bad input.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   deserializePayload, type PayloadSerializer, serializePayload,
 * } from "./payload_serializer.ts";
 * const int32: PayloadSerializer<number> = {
 *   serializedSize: () => 4,
 *   write: (value, out) => out.writeInt32(value),
 *   read: (input) => input.readInt32(),
 * };
 * const bytes = serializePayload(int32, 258, 12);
 * assert.deepEqual([...bytes], [0, 0, 1, 2]);
 * assert.equal(deserializePayload(int32, bytes, 12), 258);
 * ```
 *
 * @module
 */

import { ByteReader } from "./byte_reader.ts";
import { ByteWriter } from "./byte_writer.ts";
import { MalformedInputError } from "./errors.ts";

/** Writes and reads one verb's payload at a messaging version. */
export interface PayloadSerializer<T> {
  /** Exact number of bytes `write` produces for `value` at `version`. */
  serializedSize(value: T, version: number): number;
  /** Writes `value` at the writer's position. */
  write(value: T, out: ByteWriter, version: number): void;
  /** Reads a value that occupies the reader up to its limit. */
  read(input: ByteReader, version: number): T;
}

/** Serializes `value` into a new buffer of exactly its size. */
export function serializePayload<T>(
  serializer: PayloadSerializer<T>,
  value: T,
  version: number,
): Uint8Array {
  const size = serializer.serializedSize(value, version);
  const out = new ByteWriter(size, 0, size);
  serializer.write(value, out, version);
  if (out.pos !== size) {
    throw new Error(`serializer wrote ${out.pos} bytes but announced ${size}`);
  }
  return out.buf;
}

/**
 * Deserializes a whole payload; trailing bytes are an error (a sign of a version mismatch).
 * @throws {WireError} on truncated or malformed input
 */
export function deserializePayload<T>(
  serializer: PayloadSerializer<T>,
  bytes: Uint8Array,
  version: number,
): T {
  const input = new ByteReader(bytes);
  const value = serializer.read(input, version);
  if (input.remaining !== 0) {
    throw new MalformedInputError(
      `Cannot read payload: ${input.remaining} bytes left over after the value`,
    );
  }
  return value;
}
