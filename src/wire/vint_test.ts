import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { TruncatedInputError, VintOverflowError } from "./errors.ts";
import {
  getSignedVintBig,
  getUnsignedVint,
  getUnsignedVintBig,
  signedVintSize,
  unsignedVintSize,
  unsignedVintSizeBig,
  vintLengthAt,
  writeSignedVint,
  writeSignedVintBig,
  writeUnsignedVint,
  writeUnsignedVintBig,
} from "./vint.ts";
import { hex, toHex } from "./_test/hex.ts";

function encode(value: number): string {
  const buf = new Uint8Array(9);
  const end = writeUnsignedVint(buf, 0, value);
  equal(end, unsignedVintSize(value));
  return toHex(buf.subarray(0, end));
}

function encodeBig(value: bigint): string {
  const buf = new Uint8Array(9);
  const end = writeUnsignedVintBig(buf, 0, value);
  equal(end, unsignedVintSizeBig(value));
  return toHex(buf.subarray(0, end));
}

function encodeSignedBig(value: bigint): string {
  const buf = new Uint8Array(9);
  return toHex(buf.subarray(0, writeSignedVintBig(buf, 0, value)));
}

Deno.test("unsigned vint matches PROTOCOL.md §2 examples in both directions", () => {
  const table: Array<[number | bigint, string]> = [
    [0, "00"],
    [127, "7f"],
    [128, "80 80"],
    [16383, "bf ff"],
    [16384, "c0 40 00"],
    [2097152, "e0 20 00 00"],
    [2n ** 56n - 1n, "fe ff ff ff ff ff ff ff"],
    [2n ** 56n, "ff 01 00 00 00 00 00 00 00"],
    [2n ** 64n - 1n, "ff ff ff ff ff ff ff ff ff"],
  ];
  for (const [value, bytes] of table) {
    const big = BigInt(value);
    equal(encodeBig(big), bytes, `encode ${value}`);
    equal(getUnsignedVintBig(hex(bytes), 0), big, `decode ${bytes}`);
    equal(vintLengthAt(hex(bytes), 0), hex(bytes).length);
    if (big <= BigInt(Number.MAX_SAFE_INTEGER)) {
      equal(encode(Number(big)), bytes);
      equal(getUnsignedVint(hex(bytes), 0), Number(big));
    }
  }
});

Deno.test("signed vint matches the zigzag examples", () => {
  const table: Array<[bigint, string]> = [
    [0n, "00"],
    [-1n, "01"],
    [1n, "02"],
    [-64n, "7f"],
    [64n, "80 80"],
    [-65n, "80 81"],
    [1000n, "87 d0"],
    [-1000n, "87 cf"],
    [-(2n ** 63n), "ff ff ff ff ff ff ff ff ff"],
  ];
  for (const [value, bytes] of table) {
    equal(encodeSignedBig(value), bytes, `encode ${value}`);
    equal(getSignedVintBig(hex(bytes), 0), value, `decode ${bytes}`);
    if (value >= -(2n ** 52n) && value < 2n ** 52n) {
      const buf = new Uint8Array(9);
      equal(toHex(buf.subarray(0, writeSignedVint(buf, 0, Number(value)))), bytes);
      equal(signedVintSize(Number(value)), hex(bytes).length);
    }
  }
});

Deno.test("unsigned vint round-trips over the whole 64-bit range", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (value) => {
      const buf = new Uint8Array(12);
      const end = writeUnsignedVintBig(buf, 1, value);
      equal(vintLengthAt(buf, 1, end), end - 1);
      equal(getUnsignedVintBig(buf, 1), value);
      if (value <= BigInt(Number.MAX_SAFE_INTEGER)) {
        const numberBuf = new Uint8Array(12);
        const numberEnd = writeUnsignedVint(numberBuf, 1, Number(value));
        deepEqual(numberBuf.subarray(1, numberEnd), buf.subarray(1, end));
        equal(getUnsignedVint(buf, 1), Number(value));
      } else {
        throws(() => getUnsignedVint(buf, 1), VintOverflowError);
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("unsigned vint of every bit length round-trips as a number", () => {
  for (let bits = 0; bits <= 53; bits++) {
    for (const value of [2 ** bits - 1, 2 ** bits, Math.min(2 ** bits + 1, 2 ** 53 - 1)]) {
      if (value > Number.MAX_SAFE_INTEGER) continue;
      const buf = new Uint8Array(9);
      const end = writeUnsignedVint(buf, 0, value);
      equal(getUnsignedVint(buf, 0), value);
      equal(getUnsignedVintBig(buf, 0), BigInt(value));
      equal(end, unsignedVintSizeBig(BigInt(value)));
    }
  }
});

Deno.test("signed vint round-trips over the whole signed 64-bit range", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (value) => {
      const buf = new Uint8Array(9);
      writeSignedVintBig(buf, 0, value);
      equal(getSignedVintBig(buf, 0), value);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("vintLengthAt() reports need-more-bytes for every truncation", () => {
  const buf = new Uint8Array(9);
  const end = writeUnsignedVintBig(buf, 0, 2n ** 60n);
  for (let limit = 0; limit < end; limit++) equal(vintLengthAt(buf, 0, limit), -1);
  equal(vintLengthAt(buf, 0, end), end);
  throws(() => getUnsignedVint(buf.subarray(0, 4), 0), TruncatedInputError);
  throws(() => getUnsignedVintBig(new Uint8Array(0), 0), TruncatedInputError);
});

Deno.test("writing out-of-range values fails loudly", () => {
  const buf = new Uint8Array(9);
  throws(() => writeUnsignedVint(buf, 0, -1), RangeError);
  throws(() => writeUnsignedVint(buf, 0, 2 ** 53), RangeError);
  throws(() => writeUnsignedVintBig(buf, 0, 2n ** 64n), RangeError);
  throws(() => writeSignedVint(buf, 0, 2 ** 52), RangeError);
  throws(() => writeSignedVintBig(buf, 0, 2n ** 63n), RangeError);
});
