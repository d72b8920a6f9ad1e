/**
 * Wire-layer benchmarks (issue: foundation): vint, CRC32 (native vs `crc-32`), frame encode and
 * decode (CRC and LZ4) and message encode/decode, for 100-byte and 64 KiB payloads.
 *
 * Each case runs for a fixed time after a warm-up, on one core, and reports operations per
 * second and bytes per second. `--quick` shortens the runs; `--write` records the figures in
 * bench/RESULTS.md (between the wire markers). Not a test: numbers vary with the machine.
 *
 * Run: `deno task bench` (or `deno task bench --quick`).
 */

import { ByteWriter } from "../src/wire/byte_writer.ts";
import { crc32, crc32Fallback, seededCrc32 } from "../src/wire/crc32.ts";
import { FrameDecoder } from "../src/wire/frame_decoder.ts";
import { crcFrameEncoder, type FrameEncoder, lz4FrameEncoder } from "../src/wire/frame_encoder.ts";
import { FramedMessageReader } from "../src/wire/framed_message_reader.ts";
import type { Message } from "../src/wire/message.ts";
import { decodeScannedMessage, writeMessage } from "../src/wire/message_codec.ts";
import { MessageHeader, scanMessageHeader } from "../src/wire/message_header.ts";
import { rawBytesSerializer } from "../src/wire/payload_serializers.ts";
import { createVerbRegistry } from "../src/wire/verbs.ts";
import { getUnsignedVint, vintLengthAt, writeUnsignedVint } from "../src/wire/vint.ts";
import { cpuModel, shortCommit, writeResultsSection } from "./_results.ts";

const quick = Deno.args.includes("--quick");
const write = Deno.args.includes("--write") || !quick;
const CASE_MS = quick ? 300 : 1500;

interface Result {
  name: string;
  opsPerSecond: number;
  bytesPerSecond: number | undefined;
}

const results: Result[] = [];

/** Runs `body` (which performs `opsPerCall` operations of `bytesPerOp` bytes) repeatedly. */
function bench(name: string, opsPerCall: number, bytesPerOp: number | undefined, body: () => void) {
  const warmUntil = performance.now() + CASE_MS / 3;
  while (performance.now() < warmUntil) body();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < CASE_MS) {
    for (let i = 0; i < 16; i++) body();
    calls += 16;
    now = performance.now();
  }
  const seconds = (now - start) / 1000;
  const opsPerSecond = (calls * opsPerCall) / seconds;
  const result = {
    name,
    opsPerSecond,
    bytesPerSecond: bytesPerOp === undefined ? undefined : opsPerSecond * bytesPerOp,
  };
  results.push(result);
  console.log(format(result));
}

function format(r: Result): string {
  const ops = r.opsPerSecond >= 1e6
    ? `${(r.opsPerSecond / 1e6).toFixed(2)} M/s`
    : `${(r.opsPerSecond / 1e3).toFixed(1)} k/s`;
  const bytes = r.bytesPerSecond === undefined ? "" : `${(r.bytesPerSecond / 1e9).toFixed(2)} GB/s`;
  return `${r.name.padEnd(52)} ${ops.padStart(12)} ${bytes.padStart(12)}`;
}

function randomBytes(n: number, compressible: boolean): Uint8Array {
  const out = new Uint8Array(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = compressible ? "ringwire messaging "[i % 19]!.charCodeAt(0) ^ (x & 1) : x & 0xff;
  }
  return out;
}

// --- vint ----------------------------------------------------------------------------------
{
  const values = Array.from({ length: 1024 }, (_, i) => [i % 100, i * 1000, i * 1e7][i % 3]!);
  const buf = new Uint8Array(1024 * 9);
  bench("vint encode (mixed 1-5 byte values)", 1024, undefined, () => {
    let p = 0;
    for (let i = 0; i < values.length; i++) p = writeUnsignedVint(buf, p, values[i]!);
  });
  let end = 0;
  for (const v of values) end = writeUnsignedVint(buf, end, v);
  let sink = 0;
  bench("vint decode (mixed 1-5 byte values)", 1024, undefined, () => {
    let p = 0;
    while (p < end) {
      sink += getUnsignedVint(buf, p);
      p += vintLengthAt(buf, p, end);
    }
  });
  if (sink === -1) console.log(sink);
}

// --- CRC32 ---------------------------------------------------------------------------------
for (const size of [100, 65536]) {
  const data = randomBytes(size, false);
  bench(`crc32 native (node:zlib), ${size} B`, 1, size, () => crc32(data));
  bench(`crc32 fallback (crc-32 package), ${size} B`, 1, size, () => crc32Fallback(data, 0));
}
{
  const data = randomBytes(65536, false);
  bench("seeded crc32, 64 KiB", 1, 65536, () => seededCrc32(data));
}

// --- frames --------------------------------------------------------------------------------
function frameBench(label: string, encoder: FrameEncoder, payload: Uint8Array) {
  const buf = new Uint8Array(encoder.headerLength + payload.length + encoder.trailerLength);
  buf.set(payload, encoder.headerLength);
  bench(`frame encode ${label}`, 1, payload.length, () => {
    encoder.seal(buf, payload.length, true);
  });
  const frame = encoder.seal(buf, payload.length, true).slice();
  const decoder = new FrameDecoder(encoder.kind);
  bench(`frame decode ${label}`, 1, payload.length, () => {
    decoder.push(frame);
    decoder.next();
    decoder.next();
  });
}
frameBench("CRC, 64 KiB", crcFrameEncoder, randomBytes(65536, false));
frameBench("CRC, 100 B", crcFrameEncoder, randomBytes(100, false));
frameBench("LZ4, 64 KiB compressible", lz4FrameEncoder, randomBytes(65536, true));
frameBench("LZ4, 64 KiB incompressible (stored raw)", lz4FrameEncoder, randomBytes(65536, false));

// --- messages ------------------------------------------------------------------------------
// A custom verb carrying raw bytes, registered as an embedding application would.
const verbs = createVerbRegistry();
const BLOB = verbs.registerCustom("BENCH_BLOB", 1, 2000, rawBytesSerializer);
const NOW = 1_764_000_000_000;

function messageBench(payloadSize: number, perFrame: number) {
  const message: Message<Uint8Array> = {
    id: 123456,
    verb: BLOB,
    createdAtMs: NOW,
    expiresAtMs: NOW + 2000,
    flags: 0,
    params: undefined,
    payload: randomBytes(payloadSize, false),
  };
  const frameBuf = new Uint8Array(6 + 65536 * 2 + 4);
  const label = payloadSize >= 1024 ? `${payloadSize / 1024} KiB` : `${payloadSize} B`;
  // Encode as a link does: serialize straight into the frame payload area, then seal.
  const out = new ByteWriter(frameBuf, 6);
  let wireSize = 0;
  bench(`message encode v12, ${label} payload (framed, CRC)`, perFrame, payloadSize, () => {
    out.pos = 6;
    for (let i = 0; i < perFrame; i++) writeMessage(message, out, 12);
    wireSize = out.pos - 6;
    crcFrameEncoder.seal(frameBuf, wireSize, true);
  });
  const frame = crcFrameEncoder.seal(frameBuf, wireSize, true).slice();
  // Decode as a link does: frame check, header scan, payload deserialization.
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 27 });
  let count = 0;
  const options = { verbs, nowMs: NOW };
  bench(`message decode v12, ${label} payload (framed, CRC)`, perFrame, payloadSize, () => {
    reader.push(frame);
    for (let e = reader.next(); e !== undefined; e = reader.next()) {
      if (e.kind === "message") {
        decodeScannedMessage(e.buf, e.offset, e.end, e.header, 12, options);
        count++;
      }
    }
  });
  // The bare codec, without frames: header scan only (what expiry checks cost).
  const header = new MessageHeader();
  const one = frame.subarray(6, 6 + wireSize / perFrame);
  bench(`message header scan v12, ${label} payload`, 1, undefined, () => {
    scanMessageHeader(one, 0, one.length, 12, header);
  });
  if (count < 0) console.log(count);
}
messageBench(100, 512);
messageBench(65536, 1);

// --- record --------------------------------------------------------------------------------
if (write) await record();

async function record() {
  const cpu = await cpuModel();
  const commit = await shortCommit();
  await writeResultsSection("wire", [
    "## Wire codecs (`bench/wire_bench.ts`)",
    "",
    `Run ${new Date().toISOString().slice(0, 10)}, commit ${commit}, Deno ${Deno.version.deno}, ` +
    `${cpu}, ${navigator.hardwareConcurrency} cores; one core, ${CASE_MS} ms per case.`,
    "",
    "| case | ops/s | bytes/s |",
    "|---|---:|---:|",
    ...results.map((r) =>
      `| ${r.name} | ${(r.opsPerSecond / 1e6).toFixed(2)} M | ${
        r.bytesPerSecond === undefined ? "" : `${(r.bytesPerSecond / 1e9).toFixed(2)} GB/s`
      } |`
    ),
  ]);
}
