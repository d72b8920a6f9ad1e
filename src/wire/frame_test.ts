import { deepEqual, equal, ok, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  CorruptFrameHeaderError,
  CorruptFramePayloadError,
  FrameTooLargeError,
  TruncatedInputError,
} from "./errors.ts";
import {
  crcFrameEncoder,
  encodeCrcFrame,
  encodeFrame,
  type FrameEncoder,
  frameEncoderFor,
  type FramingKind,
  lz4FrameEncoder,
  MAX_FRAME_PAYLOAD_BYTES,
  unprotectedFrameEncoder,
  writeLz4FrameHeader,
} from "./frame_encoder.ts";
import { decodeSingleFrame, FrameDecoder, type FrameEvent } from "./frame_decoder.ts";
import { concat, hex, splitAt, toHex } from "./_test/hex.ts";

const KINDS: FramingKind[] = ["crc", "lz4", "unprotected"];
const text = (s: string) => new TextEncoder().encode(s);

/** Feeds chunks and collects every event, copying payloads (views alias the chunks). */
function decodeAll(kind: FramingKind, chunks: Uint8Array[]): FrameEvent[] {
  const decoder = new FrameDecoder(kind);
  const events: FrameEvent[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (let event = decoder.next(); event !== undefined; event = decoder.next()) {
      events.push(event.kind === "frame" ? { ...event, payload: event.payload.slice() } : event);
    }
  }
  return events;
}

Deno.test("encodeCrcFrame() produces the PROTOCOL.md §4 example and decodes it back", () => {
  const frame = encodeCrcFrame(text("hello"), true);
  equal(toHex(frame), "05 00 02 19 99 9a 68 65 6c 6c 6f 74 80 0e b6");
  const decoded = decodeSingleFrame("crc", hex("05 00 02 19 99 9a 68 65 6c 6c 6f 74 80 0e b6"));
  equal(decoded.selfContained, true);
  deepEqual(decoded.payload, text("hello"));
});

Deno.test("CRC frame headers match the reference vectors", () => {
  const cases: Array<[number, boolean, string]> = [
    [50, true, "32 00 02 a5 ff ee"],
    [50, false, "32 00 00 b8 2e 57"],
    [131071, true, "ff ff 03 25 40 47"],
  ];
  for (const [length, selfContained, header] of cases) {
    const frame = encodeCrcFrame(new Uint8Array(length), selfContained);
    equal(toHex(frame.subarray(0, 6)), header);
    const decoded = decodeSingleFrame("crc", frame);
    equal(decoded.payload.length, length);
    equal(decoded.selfContained, selfContained);
  }
});

Deno.test("LZ4 frame header matches the PROTOCOL.md §4 example", () => {
  const buf = new Uint8Array(8);
  writeLz4FrameHeader(buf, 0, 40, 50, true);
  equal(toHex(buf), "28 00 64 00 04 71 b8 41");
});

Deno.test("LZ4 frame stores incompressible payloads raw with uncompressed length 0", () => {
  const frame = encodeFrame(lz4FrameEncoder, Uint8Array.of(0x62), true);
  equal(toHex(frame), "01 00 00 00 04 06 a5 87 62 e9 1b 20 6e");
  deepEqual(decodeSingleFrame("lz4", frame).payload, Uint8Array.of(0x62));
});

Deno.test("LZ4 frame compresses repetitive payloads and restores them", () => {
  const payload = text("ringwire ".repeat(1000));
  const frame = encodeFrame(lz4FrameEncoder, payload, false);
  ok(frame.length < payload.length / 10, `compressed to ${frame.length}`);
  const decoded = decodeSingleFrame("lz4", frame);
  deepEqual(decoded.payload, payload);
  equal(decoded.selfContained, false);
});

Deno.test("frames refuse payloads over 131071 bytes", () => {
  for (const encoder of [crcFrameEncoder, lz4FrameEncoder, unprotectedFrameEncoder]) {
    throws(
      () => encodeFrame(encoder, new Uint8Array(MAX_FRAME_PAYLOAD_BYTES + 1), true),
      FrameTooLargeError,
    );
  }
  const max = encodeCrcFrame(new Uint8Array(MAX_FRAME_PAYLOAD_BYTES), true);
  equal(decodeSingleFrame("crc", max).payload.length, MAX_FRAME_PAYLOAD_BYTES);
});

Deno.test("decodeSingleFrame() gives typed errors for truncated and corrupt input", () => {
  const frame = encodeCrcFrame(text("hello"), true);
  for (let length = 0; length < frame.length; length++) {
    throws(() => decodeSingleFrame("crc", frame.subarray(0, length)), TruncatedInputError);
  }
  const badHeader = frame.slice();
  badHeader[0]! ^= 1;
  throws(() => decodeSingleFrame("crc", badHeader), CorruptFrameHeaderError);
  const badPayload = frame.slice();
  badPayload[7]! ^= 1;
  throws(() => decodeSingleFrame("crc", badPayload), CorruptFramePayloadError);
});

const framesArbitrary = fc.array(
  fc.record({
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ minLength: 1, maxLength: 40 }).map((unit) => {
        const out = new Uint8Array(Math.min(MAX_FRAME_PAYLOAD_BYTES, unit.length * 500));
        for (let i = 0; i < out.length; i++) out[i] = unit[i % unit.length]!;
        return out;
      }),
    ),
    selfContained: fc.boolean(),
  }),
  { minLength: 1, maxLength: 6 },
);

for (const kind of KINDS) {
  Deno.test(`${kind} frames round-trip with input split at random points`, () => {
    const encoder: FrameEncoder = frameEncoderFor(kind);
    fc.assert(
      fc.property(
        framesArbitrary,
        fc.array(fc.nat({ max: 200_000 }), { maxLength: 12 }),
        (frames, cuts) => {
          const stream = concat(
            ...frames.map((f) => encodeFrame(encoder, f.payload, f.selfContained)),
          );
          const events = decodeAll(kind, splitAt(stream, cuts.map((c) => c % (stream.length + 1))));
          equal(events.length, frames.length);
          events.forEach((event, i) => {
            equal(event.kind, "frame");
            if (event.kind !== "frame") return;
            deepEqual(event.payload, frames[i]!.payload);
            equal(event.selfContained, frames[i]!.selfContained);
          });
        },
      ),
      { numRuns: 150 },
    );
  });

  Deno.test(`${kind} frames decode when fed one byte at a time`, () => {
    const payloads = [text("first"), new Uint8Array(0), text("third frame ".repeat(20))];
    const stream = concat(
      ...payloads.map((p, i) => encodeFrame(frameEncoderFor(kind), p, i !== 1)),
    );
    const chunks = Array.from(stream, (b) => Uint8Array.of(b));
    const events = decodeAll(kind, chunks);
    deepEqual(
      events.map((e) => e.kind === "frame" ? e.payload : undefined),
      payloads,
    );
  });
}

Deno.test("FrameDecoder copies only frames that straddle chunks", () => {
  const a = encodeCrcFrame(text("aaaa"), true);
  const b = encodeCrcFrame(text("bbbb"), true);
  const chunk = concat(a, b.subarray(0, 3));
  const decoder = new FrameDecoder("crc");
  decoder.push(chunk);
  const first = decoder.next();
  ok(first?.kind === "frame");
  equal(first.payload.buffer, chunk.buffer, "a frame inside the chunk is a view of it");
  equal(decoder.next(), undefined);
  decoder.push(b.subarray(3));
  const second = decoder.next();
  ok(second?.kind === "frame");
  deepEqual(second.payload, text("bbbb"));
  equal(decoder.bufferedBytes, 0);
});

Deno.test("FrameDecoder.push() refuses a chunk before the previous one is consumed", () => {
  const decoder = new FrameDecoder("crc");
  decoder.push(concat(encodeCrcFrame(text("a"), true), encodeCrcFrame(text("b"), true)));
  decoder.next();
  throws(() => decoder.push(new Uint8Array(1)));
});

/** Flips every bit of `frame` in turn and checks the decoder's verdict against §4. */
function checkEveryBitFlip(kind: FramingKind, frame: Uint8Array, payload: Uint8Array): void {
  const headerLength = kind === "lz4" ? 8 : 6;
  const trailing = encodeFrame(frameEncoderFor(kind), text("next frame"), true);
  const counts = { fatal: 0, corrupt: 0, frame: 0 };
  for (let bit = 0; bit < frame.length * 8; bit++) {
    const damaged = frame.slice();
    damaged[bit >>> 3]! ^= 1 << (bit & 7);
    const inHeader = bit >>> 3 < headerLength;
    let events: FrameEvent[];
    try {
      events = decodeAll(kind, [concat(damaged, trailing)]);
    } catch (error) {
      throw new Error(`bit ${bit}: the decoder threw ${error}`);
    }
    const first = events[0];
    if (inHeader) {
      // CRC24 detects every single-bit error in the header: the stream is abandoned.
      ok(first?.kind === "fatal", `bit ${bit} in the header must be fatal, got ${first?.kind}`);
      equal(events.length, 1);
      counts.fatal++;
    } else if (kind === "unprotected") {
      // No payload check: the flip is delivered, which is why this framing is trusted-only.
      ok(first?.kind === "frame");
      counts.frame++;
    } else {
      ok(first?.kind === "corrupt", `bit ${bit} in payload/trailer must be a recoverable skip`);
      if (first?.kind === "corrupt") equal(first.wireLength, frame.length);
      // The frame after it still decodes: the link survives.
      const next = events[1];
      ok(next?.kind === "frame");
      if (next?.kind === "frame") deepEqual(next.payload, text("next frame"));
      counts.corrupt++;
    }
    for (const event of events) {
      if (
        event.kind === "frame" && event.payload.length === payload.length && kind !== "unprotected"
      ) {
        deepEqual(event.payload, payload, `bit ${bit}: altered payload delivered as valid`);
      }
    }
  }
  ok(counts.fatal === headerLength * 8);
}

Deno.test("every single-bit flip of a CRC frame is classified as §4 says", () => {
  const payload = text("payload of a sample frame");
  checkEveryBitFlip("crc", encodeCrcFrame(payload, true), payload);
});

Deno.test("every single-bit flip of an LZ4 frame is classified as §4 says", () => {
  const compressible = text("abcabcabcabcabcabcabcabcabcabcabcabcabcabc");
  checkEveryBitFlip("lz4", encodeFrame(lz4FrameEncoder, compressible, true), compressible);
  const raw = text("xq");
  checkEveryBitFlip("lz4", encodeFrame(lz4FrameEncoder, raw, false), raw);
});

Deno.test("every single-bit flip of an Unprotected frame header is fatal", () => {
  const payload = text("trusted");
  checkEveryBitFlip("unprotected", encodeFrame(unprotectedFrameEncoder, payload, true), payload);
});

Deno.test("a failed decoder yields nothing more", () => {
  const frame = encodeCrcFrame(text("x"), true);
  frame[1]! ^= 0x80;
  const decoder = new FrameDecoder("crc");
  decoder.push(concat(frame, encodeCrcFrame(text("y"), true)));
  equal(decoder.next()?.kind, "fatal");
  equal(decoder.failed, true);
  equal(decoder.next(), undefined);
});
