/**
 * LZ4 raw blocks (no LZ4 frame magic) through `lz4-wasm`, as the LZ4 framing needs (§4).
 *
 * `lz4-wasm` prefixes its output with the uncompressed length as 4 bytes little-endian; these
 * wrappers strip and restore that prefix so callers see the bare block lz4-java produces.
 *
 * @module
 */

import { compress, decompress } from "lz4-wasm";
import { CorruptFramePayloadError } from "./errors.ts";

/** Compresses `input` into a raw LZ4 block. */
export function lz4CompressBlock(input: Uint8Array): Uint8Array {
  // The 4-byte prefix is lz4-wasm's; the block starts after it.
  return compress(input).subarray(4);
}

/**
 * Decompresses a raw LZ4 block that must expand to exactly `uncompressedLength` bytes.
 * @throws {CorruptFramePayloadError} when the block is invalid or expands to another length
 */
export function lz4DecompressBlock(block: Uint8Array, uncompressedLength: number): Uint8Array {
  const prefixed = new Uint8Array(block.length + 4);
  new DataView(prefixed.buffer).setUint32(0, uncompressedLength, true);
  prefixed.set(block, 4);
  let output: Uint8Array;
  try {
    output = decompress(prefixed);
  } catch (cause) {
    throw new CorruptFramePayloadError("Cannot decompress LZ4 block: invalid block", { cause });
  }
  if (output.length !== uncompressedLength) {
    throw new CorruptFramePayloadError(
      `Cannot decompress LZ4 block: it expanded to ${output.length} bytes, header says ${uncompressedLength}`,
    );
  }
  return output;
}
