import { deepEqual, equal, ok } from "node:assert/strict";
import fc from "fast-check";
import { ByteWriter } from "./byte_writer.ts";
import {
  crcFrameEncoder,
  encodeFrame,
  frameEncoderFor,
  type FramingKind,
} from "./frame_encoder.ts";
import { FramedMessageReader } from "./framed_message_reader.ts";
import type { InboundEvent, MessageReader } from "./inbound_event.ts";
import { LegacyMessageReader } from "./legacy_message_reader.ts";
import type { Message } from "./message.ts";
import { decodeMessage, encodeMessage } from "./message_codec.ts";
import { concat, splitAt } from "./_test/hex.ts";
import { BLOB, testVerbs } from "./_test/test_verbs.ts";

const NOW = 1_764_000_000_000;
const FROM = { host: "127.0.0.1", port: 7000 };
const LARGE_FRAME_BYTES = 32 * 1024;

function blob(id: number, size: number): Message<Uint8Array> {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (id * 31 + i) & 0xff;
  return {
    id,
    verb: BLOB,
    createdAtMs: NOW,
    expiresAtMs: NOW + 2000,
    flags: 0,
    params: undefined,
    payload,
  };
}

/** Frames messages as a sender would: small ones packed, large ones split into 32 KiB pieces. */
function frameStream(kind: FramingKind, messages: Message[], packLimit = 65536): Uint8Array {
  const encoder = frameEncoderFor(kind);
  const frames: Uint8Array[] = [];
  let pack = new ByteWriter(packLimit);
  const flush = () => {
    if (pack.pos === 0) return;
    frames.push(encodeFrame(encoder, pack.toBytes(), true));
    pack = new ByteWriter(packLimit);
  };
  for (const message of messages) {
    const bytes = encodeMessage(message, 12);
    if (bytes.length > 65515) {
      flush();
      for (let offset = 0; offset < bytes.length; offset += LARGE_FRAME_BYTES) {
        frames.push(
          encodeFrame(encoder, bytes.subarray(offset, offset + LARGE_FRAME_BYTES), false),
        );
      }
      continue;
    }
    if (pack.pos + bytes.length > packLimit) flush();
    pack.writeBytes(bytes);
  }
  flush();
  return concat(...frames);
}

/** Pulls every event, decoding messages at once (events are only valid until the next pull). */
function drain(
  reader: MessageReader,
  chunks: Uint8Array[],
  onLarge?: (e: InboundEvent) => boolean,
) {
  const messages: Message<Uint8Array>[] = [];
  const others: InboundEvent[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let event = reader.next(); event !== undefined; event = reader.next()) {
      if (event.kind === "message") {
        messages.push(
          decodeMessage(event.buf, event.offset, event.end, 12, { verbs: testVerbs, nowMs: NOW }),
        );
      } else {
        if (event.kind === "large-begin" && onLarge?.(event)) reader.discardLarge();
        others.push(event.kind === "large-begin" ? { ...event } : event);
      }
    }
  }
  return { messages, others };
}

const sizesArbitrary = fc.array(
  fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 65_000, max: 200_000 })),
  { minLength: 1, maxLength: 8 },
);

for (const kind of ["crc", "lz4"] as FramingKind[]) {
  Deno.test(`FramedMessageReader (${kind}) delivers every message whatever the chunking`, () => {
    fc.assert(
      fc.property(sizesArbitrary, fc.array(fc.nat(), { maxLength: 10 }), (sizes, cuts) => {
        const messages = sizes.map((size, i) => blob(i + 1, size));
        const stream = frameStream(kind, messages);
        const reader = new FramedMessageReader(kind, { version: 12, maxMessageSizeBytes: 1 << 24 });
        const { messages: got, others } = drain(
          reader,
          splitAt(stream, cuts.map((c) => c % stream.length)),
        );
        deepEqual(got.map((m) => m.id), messages.map((m) => m.id));
        got.forEach((m, i) => deepEqual(m.payload, messages[i]!.payload));
        equal(others.filter((e) => e.kind !== "large-begin").length, 0);
        const large = messages.filter((m) => encodeMessage(m, 12).length > 65515);
        equal(others.length, large.length);
      }),
      { numRuns: 60 },
    );
  });
}

Deno.test("a corrupt self-contained frame loses only its own messages", () => {
  const first = frameStream("crc", [blob(1, 10), blob(2, 10)]);
  const second = frameStream("crc", [blob(3, 10)]);
  first[first.length - 6]! ^= 0x10; // inside the payload
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 20 });
  const { messages, others } = drain(reader, [concat(first, second)]);
  deepEqual(messages.map((m) => m.id), [3]);
  deepEqual(others.map((e) => e.kind), ["corrupt-frame"]);
  equal(reader.failed, false);
});

Deno.test("a corrupt later frame of a large message discards it and the stream goes on", () => {
  const large = frameStream("crc", [blob(1, 100_000)]);
  const after = frameStream("crc", [blob(2, 10)]);
  // Damage the payload of the second 32 KiB frame.
  large[32 * 1024 + 10 + 6 + 100]! ^= 0x01;
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 20 });
  const { messages, others } = drain(reader, [concat(large, after)]);
  deepEqual(messages.map((m) => m.id), [2]);
  deepEqual(others.map((e) => e.kind), ["large-begin", "corrupt-frame"]);
  const corrupt = others[1];
  ok(corrupt?.kind === "corrupt-frame" && corrupt.largeMessageLost);
});

Deno.test("a corrupt first frame of a large message is fatal", () => {
  const large = frameStream("crc", [blob(1, 100_000)]);
  large[100]! ^= 0x01;
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 20 });
  const { messages, others } = drain(reader, [large]);
  equal(messages.length, 0);
  deepEqual(others.map((e) => e.kind), ["fatal"]);
  equal(reader.failed, true);
});

Deno.test("discardLarge() skips a large message without buffering it", () => {
  const stream = frameStream("crc", [blob(1, 150_000), blob(2, 5)]);
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 20 });
  const { messages, others } = drain(reader, splitAt(stream, [1000, 40_000, 90_000]), () => true);
  deepEqual(messages.map((m) => m.id), [2]);
  deepEqual(others.map((e) => e.kind), ["large-begin"]);
});

Deno.test("messages over the receiver's maximum size are skipped by size", () => {
  const stream = frameStream("crc", [blob(1, 3000), blob(2, 100_000), blob(3, 10)]);
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 2048 });
  const { messages, others } = drain(reader, [stream]);
  deepEqual(messages.map((m) => m.id), [3]);
  deepEqual(others.map((e) => e.kind), ["oversized", "oversized"]);
  equal(reader.failed, false);
});

Deno.test("a message running past its self-contained frame is malformed, the link survives", () => {
  const bytes = encodeMessage(blob(1, 50), 12);
  const broken = encodeFrame(crcFrameEncoder, bytes.subarray(0, 30), true);
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 20 });
  const { messages, others } = drain(reader, [concat(broken, frameStream("crc", [blob(2, 1)]))]);
  deepEqual(messages.map((m) => m.id), [2]);
  deepEqual(others.map((e) => e.kind), ["malformed"]);
});

function legacyDrain(reader: LegacyMessageReader, chunks: Uint8Array[], discard = false) {
  const ids: number[] = [];
  const payloads: Uint8Array[] = [];
  const kinds: string[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let event = reader.next(); event !== undefined; event = reader.next()) {
      if (event.kind === "message") {
        const m = decodeMessage<Uint8Array>(event.buf, event.offset, event.end, 11, {
          verbs: testVerbs,
          nowMs: NOW,
        });
        ids.push(m.id);
        payloads.push(m.payload);
      } else {
        kinds.push(event.kind);
        if (event.kind === "large-begin" && discard) reader.discardLarge();
      }
    }
  }
  return { ids, payloads, kinds };
}

Deno.test("LegacyMessageReader delivers every v11 message whatever the chunking", () => {
  fc.assert(
    fc.property(sizesArbitrary, fc.array(fc.nat(), { maxLength: 12 }), (sizes, cuts) => {
      const messages = sizes.map((size, i) => blob(i + 1, size));
      const stream = concat(...messages.map((m) => encodeMessage(m, 11, { from: FROM })));
      const reader = new LegacyMessageReader({ version: 11, maxMessageSizeBytes: 1 << 24 });
      const got = legacyDrain(reader, splitAt(stream, cuts.map((c) => c % stream.length)));
      deepEqual(got.ids, messages.map((m) => m.id));
      got.payloads.forEach((p, i) => deepEqual(p, messages[i]!.payload));
      equal(got.kinds.filter((k) => k !== "large-begin").length, 0);
    }),
    { numRuns: 60 },
  );
});

Deno.test("LegacyMessageReader handles one-byte chunks", () => {
  const messages = [blob(1, 3), blob(2, 0), blob(3, 70)];
  const stream = concat(...messages.map((m) => encodeMessage(m, 11, { from: FROM })));
  const reader = new LegacyMessageReader({ version: 11, maxMessageSizeBytes: 1 << 20 });
  const got = legacyDrain(reader, Array.from(stream, (b) => Uint8Array.of(b)));
  deepEqual(got.ids, [1, 2, 3]);
});

Deno.test("LegacyMessageReader skips oversized and discarded messages, fails on bad magic", () => {
  const stream = concat(
    encodeMessage(blob(1, 5000), 11, { from: FROM }),
    encodeMessage(blob(2, 10), 11, { from: FROM }),
  );
  const small = new LegacyMessageReader({ version: 11, maxMessageSizeBytes: 1024 });
  const got = legacyDrain(small, splitAt(stream, [10, 700, 3000]));
  deepEqual(got.ids, [2]);
  deepEqual(got.kinds, ["oversized"]);

  const discarding = new LegacyMessageReader({
    version: 11,
    maxMessageSizeBytes: 1 << 20,
    largeThresholdBytes: 1000,
  });
  const discarded = legacyDrain(discarding, splitAt(stream, [10, 700, 3000]), true);
  deepEqual(discarded.ids, [2]);
  deepEqual(discarded.kinds, ["large-begin"]);

  const garbage = new LegacyMessageReader({ version: 11, maxMessageSizeBytes: 1 << 20 });
  const bad = legacyDrain(garbage, [
    concat(encodeMessage(blob(1, 1), 11, { from: FROM }), Uint8Array.of(1, 2, 3, 4, 5)),
  ]);
  deepEqual(bad.ids, [1]);
  deepEqual(bad.kinds, ["fatal"]);
  equal(garbage.failed, true);
});

Deno.test("every single-bit flip of a framed stream delivers only unaltered messages", () => {
  const originals = [blob(1, 40), blob(2, 70_000), blob(3, 25)];
  const encoded = new Map(originals.map((m) => [m.id, encodeMessage(m, 12)]));
  const stream = frameStream("crc", originals);
  // Every bit of the small frames; a sample of the large message's bits (it is 70 KB).
  const bits: number[] = [];
  for (
    let bit = 0;
    bit < stream.length * 8;
    bit += bit < 600 || bit > stream.length * 8 - 600 ? 1 : 97
  ) {
    bits.push(bit);
  }
  for (const bit of bits) {
    const damaged = stream.slice();
    damaged[bit >>> 3]! ^= 1 << (bit & 7);
    const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 20 });
    reader.push(damaged);
    for (let event = reader.next(); event !== undefined; event = reader.next()) {
      if (event.kind !== "message") continue;
      const bytes = event.buf.subarray(event.offset, event.end);
      const original = encoded.get(event.header.id);
      ok(original !== undefined, `bit ${bit}: a message with an altered id was delivered`);
      deepEqual(bytes, original, `bit ${bit}: altered message bytes delivered as valid`);
    }
  }
});

Deno.test("readers turn random garbage into events, never into exceptions", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.constantFrom("crc", "lz4", "unprotected", "legacy"),
      (garbage, kind) => {
        const reader: MessageReader = kind === "legacy"
          ? new LegacyMessageReader({ version: 11, maxMessageSizeBytes: 1 << 16 })
          : new FramedMessageReader(kind as FramingKind, {
            version: 12,
            maxMessageSizeBytes: 1 << 16,
          });
        for (const chunk of splitAt(garbage, [garbage.length >> 1])) {
          reader.push(chunk);
          while (reader.next() !== undefined) { /* drain */ }
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("readers survive valid frames carrying garbage messages", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.boolean(),
      (junk, selfContained) => {
        const reader = new FramedMessageReader("crc", {
          version: 12,
          maxMessageSizeBytes: 1 << 16,
        });
        reader.push(encodeFrame(crcFrameEncoder, junk, selfContained));
        const kinds: string[] = [];
        for (let event = reader.next(); event !== undefined; event = reader.next()) {
          kinds.push(event.kind);
          if (event.kind === "message") {
            try {
              decodeMessage(event.buf, event.offset, event.end, 12, {
                verbs: testVerbs,
                nowMs: NOW,
              });
            } catch (error) {
              ok(
                error instanceof Error && /Error$/.test(error.name) && error.name !== "Error" &&
                  error.name !== "RangeError" && error.name !== "TypeError",
                `unexpected ${error}`,
              );
            }
          }
        }
        ok(
          kinds.every((k) =>
            ["message", "malformed", "oversized", "fatal", "large-begin"].includes(k)
          ),
        );
      },
    ),
    { numRuns: 2000 },
  );
});
