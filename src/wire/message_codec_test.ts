import { deepEqual, equal, throws } from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter } from "./byte_writer.ts";
import {
  InvalidMagicError,
  MalformedInputError,
  MessageTooLargeError,
  TruncatedInputError,
  UnknownVerbError,
} from "./errors.ts";
import type { InetAddressAndPort } from "./inet_address.ts";
import { type Message, MessageFlag, type MessageParams } from "./message.ts";
import {
  decodeMessage,
  encodeMessage,
  messageSerializedSize,
  writeMessage,
} from "./message_codec.ts";
import {
  expiresAtMsOf,
  inferMessageSize,
  MessageHeader,
  reconstructCreatedAtMs,
  scanMessageHeader,
} from "./message_header.ts";
import { hex, toHex } from "./_test/hex.ts";
import { BLOB, CUSTOM, ECHO, testVerbs } from "./_test/test_verbs.ts";

const FROM: InetAddressAndPort = { host: "127.0.0.1", port: 7000 };
const NOW = 1_764_000_000_000;

function echo(createdAtMs: number, expiresInMs: number): Message<undefined> {
  return {
    id: 1,
    verb: ECHO,
    createdAtMs,
    expiresAtMs: createdAtMs + expiresInMs,
    flags: 0,
    params: undefined,
    payload: undefined,
  };
}

Deno.test("v12 ECHO_REQ matches the PROTOCOL.md §5 example in both directions", () => {
  const wire = "01 12 34 56 78 a7 10 1f 00 00 00";
  equal(toHex(encodeMessage(echo(0x12345678, 10000), 12)), wire);
  const bytes = hex(wire);
  const message = decodeMessage(bytes, 0, bytes.length, 12, {
    verbs: testVerbs,
    nowMs: 0x12345678,
  });
  equal(message.id, 1);
  equal(message.verb, ECHO);
  equal(message.createdAtMs, 0x12345678);
  equal(message.expiresAtMs, 0x12345678 + 10000);
  equal(message.flags, 0);
  equal(message.params, undefined);
});

Deno.test("v11 ECHO_REQ carries magic, fixed ints and the sender address", () => {
  const wire =
    "ca 55 2d fa 00 00 00 01 12 34 56 78 04 7f 00 00 01 00 00 00 1f 00 00 00 00 00 00 00 00";
  equal(toHex(encodeMessage(echo(0x12345678, 10000), 11, { from: FROM })), wire);
  const bytes = hex(wire);
  const message = decodeMessage(bytes, 0, bytes.length, 11, {
    verbs: testVerbs,
    nowMs: 0x12345678,
  });
  equal(message.id, 1);
  equal(message.verb, ECHO);
  // No expiry on the wire: the verb's timeout applies from creation.
  equal(message.expiresAtMs, 0x12345678 + ECHO.timeoutMs!);
});

Deno.test("v11 flags travel as params with a one-byte 00 value", () => {
  const message: Message<Uint8Array> = {
    ...echo(NOW, 2000),
    verb: BLOB,
    flags: MessageFlag.CALL_BACK_ON_FAILURE | MessageFlag.TRACK_REPAIRED_DATA,
    payload: Uint8Array.of(9),
  };
  const bytes = encodeMessage(message, 11, { from: FROM });
  const asText = new TextDecoder().decode(bytes);
  equal(asText.includes("CAL_BAC"), true);
  equal(asText.includes("TrackRepaired"), true);
  const back = decodeMessage(bytes, 0, bytes.length, 11, { verbs: testVerbs, nowMs: NOW });
  equal(back.flags, message.flags);
  equal(back.params, undefined);
  deepEqual(back.payload, Uint8Array.of(9));
});

const addressArbitrary = fc.oneof(
  fc.ipV4().map((host) => host),
  fc.constantFrom("::1", "fe80::1:2", "2001:db8::8a2e:370:7334"),
).chain((host) => fc.integer({ min: 0, max: 65535 }).map((port) => ({ host, port })));

function paramsArbitrary(version: number): fc.Arbitrary<MessageParams | undefined> {
  // Version 11 carries no ports in addresses: generate port 0 there so round trips are exact.
  const address = version >= 12
    ? addressArbitrary
    : addressArbitrary.map((a) => ({ ...a, port: 0 }));
  const params = fc.record(
    {
      forwardTo: fc.array(
        fc.record({ address, id: fc.integer({ min: 1, max: 0x7fffffff }) }),
        { maxLength: 4 },
      ),
      respondTo: address,
      traceSession: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      traceType: fc.integer({ min: 0, max: 2 }),
    },
    { requiredKeys: [] },
  );
  return fc.option(params.filter((p) => Object.keys(p).length > 0), { nil: undefined });
}

function messageArbitrary(version: number): fc.Arbitrary<Message<Uint8Array>> {
  return fc.record({
    id: version >= 12
      ? fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
      : fc.integer({ min: 1, max: 0xffffffff }),
    verb: fc.constantFrom(BLOB, CUSTOM),
    createdAtMs: fc.integer({ min: NOW - 60_000, max: NOW }),
    expiresInMs: fc.integer({ min: 0, max: 3_600_000 }),
    flags: fc.integer({ min: 0, max: 3 }),
    params: paramsArbitrary(version),
    payload: fc.uint8Array({ maxLength: 2000 }),
  }).map(({ expiresInMs, ...m }) => ({ ...m, expiresAtMs: m.createdAtMs + expiresInMs }));
}

for (const version of [12, 11]) {
  Deno.test(`v${version} messages round-trip with random params and payloads`, () => {
    fc.assert(
      fc.property(messageArbitrary(version), (message) => {
        const options = { from: FROM };
        const bytes = encodeMessage(message, version, options);
        equal(bytes.length, messageSerializedSize(message, version, options));
        equal(inferMessageSize(bytes, 0, bytes.length, version, 1 << 30), bytes.length);
        const back = decodeMessage<Uint8Array>(bytes, 0, bytes.length, version, {
          verbs: testVerbs,
          nowMs: NOW,
        });
        equal(back.id, message.id);
        equal(back.verb, message.verb);
        equal(back.createdAtMs, message.createdAtMs);
        if (version >= 12) equal(back.expiresAtMs, message.expiresAtMs);
        else equal(back.expiresAtMs, message.createdAtMs + message.verb.timeoutMs!);
        equal(back.flags, message.flags);
        deepEqual(back.params, message.params);
        deepEqual(back.payload, message.payload);
      }),
      { numRuns: 400 },
    );
  });

  Deno.test(`v${version} size inference needs exactly the header and never throws on prefixes`, () => {
    fc.assert(
      fc.property(messageArbitrary(version), (message) => {
        const bytes = encodeMessage(message, version, { from: FROM });
        const header = new MessageHeader();
        let known = -1;
        for (let limit = 0; limit <= bytes.length; limit++) {
          const size = inferMessageSize(bytes, 0, limit, version, 1 << 30, header);
          if (size >= 0) {
            known = limit;
            equal(size, bytes.length);
            break;
          }
        }
        equal(known, header.payloadOffset, "size is known once the payload-size field is read");
        equal(header.verbId, message.verb.id);
        equal(header.id, message.id);
        equal(header.flags, message.flags);
      }),
      { numRuns: 200 },
    );
  });
}

Deno.test("inferMessageSize() refuses messages over the maximum size", () => {
  const message = { ...echo(NOW, 1000), verb: BLOB, payload: new Uint8Array(5000) };
  for (const version of [12, 11]) {
    const bytes = encodeMessage(message, version, { from: FROM });
    throws(
      () => inferMessageSize(bytes, 0, 40, version, 4096),
      (error: unknown) => error instanceof MessageTooLargeError && error.sizeBytes === bytes.length,
    );
  }
});

Deno.test("decodeMessage() gives typed errors for truncated, padded and unknown-verb input", () => {
  const message = { ...echo(NOW, 1000), verb: BLOB, payload: Uint8Array.of(1, 2, 3) };
  for (const version of [12, 11]) {
    const bytes = encodeMessage(message, version, { from: FROM });
    const options = { verbs: testVerbs, nowMs: NOW };
    for (let end = 0; end < bytes.length; end++) {
      throws(() => decodeMessage(bytes, 0, end, version, options), TruncatedInputError);
    }
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes);
    throws(() => decodeMessage(padded, 0, padded.length, version, options), MalformedInputError);
    throws(
      () =>
        decodeMessage(bytes, 0, bytes.length, version, {
          verbs: { byId: () => undefined },
          nowMs: NOW,
        }),
      (error: unknown) => error instanceof UnknownVerbError && error.verbId === BLOB.id,
    );
  }
});

Deno.test("v11 input without the magic is refused", () => {
  const bytes = hex("de ad be ef 00 00 00 01");
  throws(() => inferMessageSize(bytes, 0, bytes.length, 11, 1 << 20), InvalidMagicError);
  throws(() => inferMessageSize(bytes, 0, 2, 11, 1 << 20), InvalidMagicError);
  const header = new MessageHeader();
  equal(scanMessageHeader(hex("ca 55"), 0, 2, 11, header), false);
});

Deno.test("v12 header with an id beyond 2^53 is a typed error", () => {
  const bytes = hex("ff ff ff ff ff ff ff ff ff 00 00 00 00 00 1f 00 00 00");
  throws(
    () => inferMessageSize(bytes, 0, bytes.length, 12, 1 << 20),
    (e: unknown) => e instanceof Error && e.name === "VintOverflowError",
  );
});

Deno.test("reconstructCreatedAtMs() rebuilds the high bits across the 2^32 wrap", () => {
  const wrap = 0x1_0000_0000 * 400;
  // Sender just before a wrap, receiver just after.
  equal(reconstructCreatedAtMs((wrap - 1000) % 2 ** 32, wrap + 500), wrap - 1000);
  // Sender just after, receiver just before (sender clock slightly ahead).
  equal(reconstructCreatedAtMs((wrap + 1000) % 2 ** 32, wrap - 500), wrap + 1000);
  // Within a normal range.
  equal(reconstructCreatedAtMs(NOW % 2 ** 32, NOW + 10), NOW);
  // More than 15 minutes apart: not trusted, our time is used.
  equal(reconstructCreatedAtMs((NOW - 16 * 60_000) % 2 ** 32, NOW), NOW);
});

Deno.test("expiry counts from the earlier of creation and now", () => {
  const header = new MessageHeader();
  const bytes = encodeMessage(echo(NOW + 60_000, 5000), 12);
  scanMessageHeader(bytes, 0, bytes.length, 12, header);
  // A sender clock a minute ahead does not extend the expiry.
  equal(expiresAtMsOf(header, NOW, 10_000), NOW + 5000);
});

Deno.test("writeMessage() packs several messages into one buffer back to back", () => {
  const out = new ByteWriter(16);
  const messages = [1, 2, 3].map((id) => ({ ...echo(NOW, 1000), id }));
  for (const m of messages) writeMessage(m, out, 12);
  const bytes = out.toBytes();
  let offset = 0;
  for (const m of messages) {
    const size = inferMessageSize(bytes, offset, bytes.length, 12, 1 << 20);
    equal(
      decodeMessage(bytes, offset, offset + size, 12, { verbs: testVerbs, nowMs: NOW }).id,
      m.id,
    );
    offset += size;
  }
  equal(offset, bytes.length);
});
