/** Test helpers shared by the payload serializer tests. */

import { deepEqual, fail, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import { MalformedInputError, TruncatedInputError } from "../errors.ts";
import { formatIpAddress, type InetAddressAndPort } from "../inet_address.ts";
import {
  deserializePayload,
  type PayloadSerializer,
  serializePayload,
} from "../payload_serializer.ts";

/** Serializes `value`, checks it deserializes back equal, and returns the bytes. */
export function roundTrip<T>(
  serializer: PayloadSerializer<T>,
  value: T,
  version: number,
): Uint8Array {
  const bytes = serializePayload(serializer, value, version);
  deepEqual(deserializePayload(serializer, bytes, version), value);
  return bytes;
}

/** For payloads without counts: every strict prefix is a TruncatedInputError. */
export function assertPrefixesTruncated<T>(
  serializer: PayloadSerializer<T>,
  bytes: Uint8Array,
  version: number,
): void {
  for (let n = 0; n < bytes.length; n++) {
    throws(
      () => deserializePayload(serializer, bytes.subarray(0, n), version),
      TruncatedInputError,
    );
  }
}

/**
 * Every strict prefix fails with TruncatedInputError, or with the MalformedInputError of a count
 * that the cut-short input can no longer hold; never with a RangeError or anything else.
 */
export function assertPrefixesFail<T>(
  serializer: PayloadSerializer<T>,
  bytes: Uint8Array,
  version: number,
): void {
  for (let n = 0; n < bytes.length; n++) {
    try {
      deserializePayload(serializer, bytes.subarray(0, n), version);
    } catch (error) {
      const countError = error instanceof MalformedInputError && /a count of/.test(error.message);
      ok(error instanceof TruncatedInputError || countError, `prefix ${n}: ${error}`);
      continue;
    }
    fail(`prefix of ${n}/${bytes.length} bytes was accepted`);
  }
}

/** Addresses as the given version carries them (no port before version 12). */
export function addressArb(version: number): fc.Arbitrary<InetAddressAndPort> {
  const host = fc.oneof(
    fc.uint8Array({ minLength: 4, maxLength: 4 }),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
  ).map(formatIpAddress);
  const port = version >= 12 ? fc.integer({ min: 0, max: 65535 }) : fc.constant(0);
  return fc.record({ host, port });
}
