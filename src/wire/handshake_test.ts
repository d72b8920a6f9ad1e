import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  HandshakeError,
  IncompatibleVersionError,
  InvalidMagicError,
  WireError,
} from "./errors.ts";
import {
  type ConnectionType,
  encodeAccept,
  encodeConfirmOutboundPre40,
  encodeInitiate,
  encodeLegacyReply,
  type Initiate,
  interpretAcceptReply,
  negotiateAcceptorVersion,
  packInitiateFlags,
  parseAcceptReply,
  parseConfirmOutboundPre40,
  parseInitiate,
} from "./handshake.ts";
import type { FramingKind } from "./frame_encoder.ts";
import { hex, toHex } from "./_test/hex.ts";

const EXAMPLE: Initiate = {
  type: "small",
  framing: "crc",
  streaming: false,
  requestVersion: 12,
  minVersion: 10,
  maxVersion: 12,
  from: { host: "127.0.0.1", port: 7000 },
};

Deno.test("Initiate matches the PROTOCOL.md §6 example in both directions", () => {
  const wire = "ca 55 2d fa 0c 0a 0c 12 06 7f 00 00 01 1b 58 58 e7 26 56";
  equal(packInitiateFlags(EXAMPLE), 0x0c0a0c12);
  equal(toHex(encodeInitiate(EXAMPLE)), wire);
  deepEqual(parseInitiate(hex(wire)), { value: EXAMPLE, consumed: 19 });
});

Deno.test("a legacy Initiate is magic and flags only, with min and max zero", () => {
  const legacy: Initiate = { ...EXAMPLE, requestVersion: 11, minVersion: 0, maxVersion: 0 };
  const { from: _from, ...withoutFrom } = legacy;
  equal(toHex(encodeInitiate(withoutFrom)), "ca 55 2d fa 00 00 0b 12");
  deepEqual(parseInitiate(hex("ca 55 2d fa 00 00 0b 12 ff")), { value: withoutFrom, consumed: 8 });
});

Deno.test("Accept matches the reference bytes and the legacy reply is one int", () => {
  equal(
    toHex(encodeAccept({ maxVersion: 12, useVersion: 12 })),
    "00 00 00 0c 00 00 00 0c 26 f5 67 3a",
  );
  deepEqual(parseAcceptReply(hex("00 00 00 0c 00 00 00 0c 26 f5 67 3a"), 12)?.value, {
    maxVersion: 12,
    useVersion: 12,
  });
  equal(toHex(encodeLegacyReply(11)), "00 00 00 0b");
  deepEqual(parseAcceptReply(hex("00 00 00 0b"), 12)?.value, { maxVersion: 11, useVersion: 0 });
  // Our own request below 12: even a max of 12 is read as the legacy reply.
  deepEqual(parseAcceptReply(hex("00 00 00 0c"), 11)?.value, { maxVersion: 12, useVersion: 0 });
  equal(parseAcceptReply(hex("00 00 00 0c 00 00"), 12), undefined);
});

Deno.test("ConfirmOutboundPre40 carries the max and an address without port", () => {
  const bytes = encodeConfirmOutboundPre40({
    maxVersion: 12,
    from: { host: "127.0.0.2", port: 0 },
  });
  equal(toHex(bytes), "00 00 00 0c 04 7f 00 00 02");
  deepEqual(parseConfirmOutboundPre40(bytes)?.value, {
    maxVersion: 12,
    from: { host: "127.0.0.2", port: 0 },
  });
});

const initiateArbitrary: fc.Arbitrary<Initiate> = fc.record({
  type: fc.constantFrom<ConnectionType>("urgent", "small", "large"),
  framing: fc.constantFrom<FramingKind>("crc", "lz4", "unprotected"),
  streaming: fc.boolean(),
  requestVersion: fc.integer({ min: 12, max: 255 }),
  minVersion: fc.integer({ min: 0, max: 12 }),
  maxVersion: fc.integer({ min: 12, max: 255 }),
  from: fc.record({
    host: fc.oneof(fc.ipV4(), fc.constantFrom("::1", "fe80::1", "2001:db8::1")),
    port: fc.integer({ min: 0, max: 65535 }),
  }),
}).map((i) => (i.streaming ? { ...i, type: "large" as const } : i));

Deno.test("Initiate round-trips and parses when fed one byte at a time", () => {
  fc.assert(
    fc.property(initiateArbitrary, (initiate) => {
      const bytes = encodeInitiate(initiate);
      for (let length = 0; length < bytes.length; length++) {
        equal(parseInitiate(bytes.subarray(0, length)), undefined);
      }
      const parsed = parseInitiate(bytes)!;
      equal(parsed.consumed, bytes.length);
      deepEqual(parsed.value, initiate);
    }),
  );
});

Deno.test("every single-bit flip of a v12 Initiate and Accept is detected", () => {
  const initiate = encodeInitiate(EXAMPLE);
  for (let bit = 0; bit < initiate.length * 8; bit++) {
    const damaged = initiate.slice();
    damaged[bit >>> 3]! ^= 1 << (bit & 7);
    let result;
    try {
      result = parseInitiate(damaged);
    } catch (error) {
      ok(error instanceof WireError, `bit ${bit}: ${error}`);
      continue;
    }
    // Only a flip that makes the address length longer can leave it waiting for more bytes;
    // nothing damaged is ever accepted, neither as current nor as a legacy Initiate.
    equal(result, undefined, `bit ${bit} was accepted`);
  }
  const accept = encodeAccept({ maxVersion: 12, useVersion: 12 });
  for (let bit = 0; bit < accept.length * 8; bit++) {
    const damaged = accept.slice();
    damaged[bit >>> 3]! ^= 1 << (bit & 7);
    let result;
    try {
      result = parseAcceptReply(damaged, 12);
    } catch (error) {
      ok(error instanceof HandshakeError);
      continue;
    }
    ok(result === undefined || result.value.useVersion === 0, `bit ${bit} produced a bad Accept`);
  }
});

Deno.test("garbage Initiates give typed errors, never crashes", () => {
  throws(() => parseInitiate(hex("de ad")), InvalidMagicError);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      try {
        parseInitiate(bytes);
        parseAcceptReply(bytes, 12);
        parseConfirmOutboundPre40(bytes);
      } catch (error) {
        ok(error instanceof WireError, String(error));
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("the acceptor picks max(ourMin, min(ourMax, peerMax)) and refuses disjoint ranges", () => {
  equal(negotiateAcceptorVersion(11, 12, 11, 12), 12);
  equal(negotiateAcceptorVersion(11, 12, 10, 11), 11);
  equal(negotiateAcceptorVersion(11, 11, 11, 12), 11);
  equal(negotiateAcceptorVersion(10, 12, 12, 14), 12);
  throws(() => negotiateAcceptorVersion(12, 12, 10, 11), IncompatibleVersionError);
  throws(() => negotiateAcceptorVersion(11, 11, 12, 12), IncompatibleVersionError);
});

Deno.test("the initiator succeeds, retries at the peer's version, or gives up", () => {
  deepEqual(interpretAcceptReply({ maxVersion: 12, useVersion: 12 }, 12, 11, 12), {
    kind: "success",
    version: 12,
    legacy: false,
  });
  // A v11 peer answers a v12 request with its max: retry at once at 11.
  deepEqual(interpretAcceptReply({ maxVersion: 11, useVersion: 0 }, 12, 11, 12), {
    kind: "retry",
    peerVersion: 11,
  });
  deepEqual(interpretAcceptReply({ maxVersion: 11, useVersion: 0 }, 11, 11, 12), {
    kind: "success",
    version: 11,
    legacy: true,
  });
  // The peer was upgraded: our v11 request is answered with 12, so retry at 12.
  deepEqual(interpretAcceptReply({ maxVersion: 12, useVersion: 0 }, 11, 11, 12), {
    kind: "retry",
    peerVersion: 12,
  });
  // We speak at most 11: the peer's 12 does not matter, 11 holds.
  equal(interpretAcceptReply({ maxVersion: 12, useVersion: 0 }, 11, 11, 11).kind, "success");
  equal(interpretAcceptReply({ maxVersion: 10, useVersion: 0 }, 12, 11, 12).kind, "incompatible");
  equal(interpretAcceptReply({ maxVersion: 12, useVersion: 13 }, 12, 11, 12).kind, "incompatible");
});
