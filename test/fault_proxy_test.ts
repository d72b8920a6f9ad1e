/** The fault proxy on its own: hand-made handshakes and frames through a plain TCP server. */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { SystemClock } from "../src/clock.ts";
import { seededCrc32 } from "../src/wire/crc32.ts";
import { FrameDecoder, type FrameEvent } from "../src/wire/frame_decoder.ts";
import {
  encodeCrcFrame,
  encodeFrame,
  type FramingKind,
  lz4FrameEncoder,
  unprotectedFrameEncoder,
} from "../src/wire/frame_encoder.ts";
import { FaultProxy, type LinkType } from "./fault_proxy.ts";

const clock = new SystemClock();

/** PROTOCOL.md §6: SMALL, CRC, request 12, min 10, max 12, from 127.0.0.1:7000. */
const SMALL_CRC_INITIATE = hex("ca 55 2d fa 0c 0a 0c 12 06 7f 00 00 01 1b 58 58 e7 26 56");

const FRAMING_ID: Readonly<Record<FramingKind, number>> = { unprotected: 0, lz4: 1, crc: 2 };

function hex(text: string): Uint8Array {
  const clean = text.replace(/\s/g, "");
  return Uint8Array.from({ length: clean.length / 2 }, (_, i) => {
    return parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  });
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** An Initiate as an initiator at 127.0.0.1:7000 writes it (legacy form below version 12). */
function initiate(type: LinkType, framing: FramingKind, version = 12): Uint8Array {
  const framingId = FRAMING_ID[framing];
  const modern = version >= 12;
  const flags = (type | ((framingId & 1) << 2) | (((framingId >> 1) & 1) << 4) | (version << 8) |
    (modern ? (10 << 16) | (12 << 24) : 0)) >>> 0;
  const head = new Uint8Array(8);
  const view = new DataView(head.buffer);
  view.setUint32(0, 0xca552dfa);
  view.setUint32(4, flags);
  if (!modern) return head;
  const body = concat(head, hex("06 7f 00 00 01 1b 58"));
  const crc = new Uint8Array(4);
  new DataView(crc.buffer).setUint32(0, seededCrc32(body));
  return concat(body, crc);
}

/** A payload whose bytes depend on `seed`, compressible only when `repetitive`. */
function payload(seed: number, length: number, repetitive = false): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => repetitive ? seed : (seed * 31 + i * 7) & 0xff);
}

/** Byte positions where `a` and `b` differ, with the number of differing bits. */
function bitDiffs(a: Uint8Array, b: Uint8Array): { index: number; bits: number }[] {
  equal(a.length, b.length, "same length");
  const diffs: { index: number; bits: number }[] = [];
  for (let i = 0; i < a.length; i++) {
    let x = a[i]! ^ b[i]!;
    if (x === 0) continue;
    let bits = 0;
    for (; x !== 0; x &= x - 1) bits++;
    diffs.push({ index: i, bits });
  }
  return diffs;
}

/** Decodes a frame stream whole; event kinds in order. */
function decode(framing: FramingKind, bytes: Uint8Array): FrameEvent["kind"][] {
  const decoder = new FrameDecoder(framing);
  decoder.push(bytes);
  const kinds: FrameEvent["kind"][] = [];
  for (let event = decoder.next(); event !== undefined; event = decoder.next()) {
    kinds.push(event.kind);
  }
  return kinds;
}

async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  for (let filled = 0; filled < length;) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) throw new Error(`EOF after ${filled} of ${length} bytes`);
    filled += n;
  }
  return buffer;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.length;) offset += await conn.write(bytes.subarray(offset));
}

async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = clock.nowMs() + timeoutMs;
  while (!predicate()) {
    if (clock.nowMs() > deadline) throw new Error(`timed out waiting for ${what}`);
    await clock.sleep(2);
  }
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** A target server, a proxy in front of it, and connections opened through the proxy. */
class Rig {
  readonly listener: Deno.TcpListener;
  readonly proxy: FaultProxy;
  readonly #conns: Deno.Conn[] = [];

  private constructor(listener: Deno.TcpListener, proxy: FaultProxy) {
    this.listener = listener;
    this.proxy = proxy;
  }

  static async start(): Promise<Rig> {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const proxy = await FaultProxy.start({
        target: { host: "127.0.0.1", port: listener.addr.port },
      });
      return new Rig(listener, proxy);
    } catch (error) {
      listener.close();
      throw error;
    }
  }

  /** Connects through the proxy; resolves with the client end and the server's accepted end. */
  async connect(): Promise<{ client: Deno.TcpConn; server: Deno.TcpConn }> {
    const accepted = this.listener.accept();
    const client = await Deno.connect({
      hostname: this.proxy.address.host,
      port: this.proxy.address.port,
    });
    this.#conns.push(client);
    client.setNoDelay(true);
    const server = await accepted;
    this.#conns.push(server);
    return { client, server };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const conn of this.#conns) closeQuietly(conn);
    try {
      await this.proxy.close();
    } finally {
      this.listener.close();
    }
  }
}

Deno.test("FaultProxy forwards bytes unchanged in both directions by default", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  deepEqual(initiate(2, "crc"), SMALL_CRC_INITIATE);
  const frames = [payload(1, 5), payload(2, 1000), payload(3, 70_000)].map((p) =>
    encodeCrcFrame(p, true)
  );
  const sent = concat(SMALL_CRC_INITIATE, ...frames);
  await writeAll(client, sent);
  deepEqual(await readExactly(server, sent.length), sent);

  const reply = hex("00 00 00 0c 00 00 00 0c 01 02 03 04");
  await writeAll(server, reply);
  deepEqual(await readExactly(client, reply.length), reply);

  await waitFor(
    () => rig.proxy.framesForwarded === 3 && rig.proxy.bytesForwarded.acceptorToInitiator > 0,
    "counters updated",
  );
  equal(rig.proxy.connectionsAccepted, 1);
  equal(rig.proxy.openConnections, 1);
  deepEqual(rig.proxy.bytesForwarded, {
    initiatorToAcceptor: sent.length,
    acceptorToInitiator: reply.length,
  });
  deepEqual(rig.proxy.framesCorrupted, { payload: 0, header: 0 });
});

Deno.test("corruptNextFramePayload() flips one bit inside the payload of one frame", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const payloads = [payload(1, 40), payload(2, 300), payload(3, 7), payload(4, 64)];
  const frames = payloads.map((p) => encodeCrcFrame(p, true));
  const sent = concat(SMALL_CRC_INITIATE, ...frames);
  rig.proxy.corruptNextFramePayload();
  await writeAll(client, sent);
  const received = await readExactly(server, sent.length);

  const diffs = bitDiffs(sent, received);
  equal(diffs.length, 1);
  equal(diffs[0]!.bits, 1);
  const payloadStart = SMALL_CRC_INITIATE.length + 6;
  ok(diffs[0]!.index >= payloadStart && diffs[0]!.index < payloadStart + payloads[0]!.length);
  deepEqual(decode("crc", received.subarray(SMALL_CRC_INITIATE.length)), [
    "corrupt",
    "frame",
    "frame",
    "frame",
  ]);
  deepEqual(rig.proxy.framesCorrupted, { payload: 1, header: 0 });
});

Deno.test("corruptNextFramePayload() honours count and connection type", async () => {
  await using rig = await Rig.start();
  const urgent = await rig.connect();
  const small = await rig.connect();
  const frames = [1, 2, 3, 4].map((seed) => encodeCrcFrame(payload(seed, 100), true));
  rig.proxy.corruptNextFramePayload({ type: 2, count: 2 });

  const urgentSent = concat(initiate(1, "crc"), ...frames);
  await writeAll(urgent.client, urgentSent);
  deepEqual(await readExactly(urgent.server, urgentSent.length), urgentSent);

  const smallSent = concat(SMALL_CRC_INITIATE, ...frames);
  await writeAll(small.client, smallSent);
  const received = await readExactly(small.server, smallSent.length);
  equal(bitDiffs(smallSent, received).length, 2);
  deepEqual(decode("crc", received.subarray(SMALL_CRC_INITIATE.length)), [
    "corrupt",
    "corrupt",
    "frame",
    "frame",
  ]);
  deepEqual(rig.proxy.framesCorrupted, { payload: 2, header: 0 });
});

Deno.test("corruptNextFrameHeader() makes the decoder fail fatally", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const frames = [payload(1, 50), payload(2, 60)].map((p) => encodeCrcFrame(p, true));
  const sent = concat(SMALL_CRC_INITIATE, ...frames);
  rig.proxy.corruptNextFrameHeader();
  await writeAll(client, sent);
  const received = await readExactly(server, sent.length);

  const diffs = bitDiffs(sent, received);
  equal(diffs.length, 1);
  equal(diffs[0]!.bits, 1);
  const headerStart = SMALL_CRC_INITIATE.length;
  ok(diffs[0]!.index >= headerStart && diffs[0]!.index < headerStart + 3, "a length/flag byte");
  deepEqual(decode("crc", received.subarray(headerStart)), ["fatal"]);
  deepEqual(rig.proxy.framesCorrupted, { payload: 0, header: 1 });
});

Deno.test("frame faults find frame boundaries when bytes arrive one at a time", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  // The empty frame has no payload to damage: the second fault goes to the 300-byte frame.
  const payloads = [payload(1, 5), payload(2, 0), payload(3, 300), payload(4, 1)];
  const frames = payloads.map((p) => encodeCrcFrame(p, true));
  const head = concat(SMALL_CRC_INITIATE, frames[0]!, frames[1]!, frames[2]!);
  const sent = concat(head, frames[3]!);
  rig.proxy.corruptNextFramePayload({ count: 2 });
  const reading = readExactly(server, sent.length);
  for (let i = 0; i < head.length; i++) {
    await writeAll(client, head.subarray(i, i + 1));
    await clock.sleep(1);
  }
  await waitFor(() => rig.proxy.framesForwarded === 3, "3 frames forwarded");
  rig.proxy.corruptNextFrameHeader();
  for (let i = head.length; i < sent.length; i++) {
    await writeAll(client, sent.subarray(i, i + 1));
    await clock.sleep(1);
  }
  const received = await reading;

  const diffs = bitDiffs(sent, received);
  equal(diffs.length, 3);
  ok(diffs.every((diff) => diff.bits === 1));
  const frameStart = (k: number) =>
    SMALL_CRC_INITIATE.length + frames.slice(0, k).reduce((n, f) => n + f.length, 0);
  ok(diffs[0]!.index >= frameStart(0) + 6 && diffs[0]!.index < frameStart(0) + 6 + 5);
  ok(diffs[1]!.index >= frameStart(2) + 6 && diffs[1]!.index < frameStart(2) + 6 + 300);
  ok(diffs[2]!.index >= frameStart(3) && diffs[2]!.index < frameStart(3) + 3);
  deepEqual(decode("crc", received.subarray(SMALL_CRC_INITIATE.length)), [
    "corrupt",
    "frame",
    "corrupt",
    "fatal",
  ]);
  deepEqual(rig.proxy.framesCorrupted, { payload: 2, header: 1 });
});

Deno.test("frame faults use the compressed length of LZ4 frames", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const compressed = encodeFrame(lz4FrameEncoder, payload(7, 5000, true), true);
  ok(compressed.length < 5000, "the first frame is compressed");
  const raw = encodeFrame(lz4FrameEncoder, payload(8, 200), true);
  const lz4Initiate = initiate(3, "lz4");
  await writeAll(client, concat(lz4Initiate, compressed));
  await waitFor(() => rig.proxy.framesForwarded === 1, "the compressed frame forwarded");
  rig.proxy.corruptNextFramePayload({ type: 3 });
  await writeAll(client, raw);
  const sent = concat(lz4Initiate, compressed, raw);
  const received = await readExactly(server, sent.length);

  const diffs = bitDiffs(sent, received);
  equal(diffs.length, 1);
  const rawPayloadStart = lz4Initiate.length + compressed.length + 8;
  ok(diffs[0]!.index >= rawPayloadStart && diffs[0]!.index < rawPayloadStart + 200);
  deepEqual(decode("lz4", received.subarray(lz4Initiate.length)), ["frame", "corrupt"]);
});

Deno.test("frame faults on unprotected frames: payload bits pass, headers fail", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const frames = [payload(1, 30), payload(2, 40)].map((p) =>
    encodeFrame(unprotectedFrameEncoder, p, true)
  );
  const unprotectedInitiate = initiate(2, "unprotected");
  const sent = concat(unprotectedInitiate, ...frames);
  rig.proxy.corruptNextFramePayload();
  rig.proxy.corruptNextFrameHeader({ count: 1 });
  rig.proxy.corruptNextFramePayload();
  await writeAll(client, sent);
  const received = await readExactly(server, sent.length);

  // Header faults win: frame 1 gets the header fault, frame 2 the first payload fault.
  const diffs = bitDiffs(sent, received);
  equal(diffs.length, 2);
  const second = unprotectedInitiate.length + frames[0]!.length;
  ok(diffs[0]!.index >= unprotectedInitiate.length && diffs[0]!.index < second);
  ok(diffs[1]!.index >= second + 6 && diffs[1]!.index < sent.length);
  deepEqual(decode("unprotected", received.subarray(unprotectedInitiate.length)), ["fatal"]);
  deepEqual(
    decode("unprotected", received.subarray(second)),
    ["frame"],
    "no trailer: a payload bit flip goes unnoticed by the frame layer",
  );
  deepEqual(rig.proxy.framesCorrupted, { payload: 1, header: 1 });
});

Deno.test("legacy connections pass unframed; flipBitAtOffset() still applies", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const legacyInitiate = initiate(2, "crc", 11);
  equal(legacyInitiate.length, 8);
  const frameLike = encodeCrcFrame(payload(1, 20), true);
  const sent = concat(legacyInitiate, hex("00 00 00 0b 04 7f 00 00 01"), frameLike);
  rig.proxy.corruptNextFramePayload();
  rig.proxy.flipBitAtOffset({ offset: 3, bit: 7, type: 2 });
  await writeAll(client, sent);
  const received = await readExactly(server, sent.length);

  deepEqual(bitDiffs(sent, received), [{ index: 8 + 3, bits: 1 }]);
  equal(received[11], 0x8b);
  equal(rig.proxy.bytesFlipped, 1);
  equal(rig.proxy.framesForwarded, 0);
  deepEqual(rig.proxy.framesCorrupted, { payload: 0, header: 0 });
  rig.proxy.clearFaults();
});

Deno.test("stall() holds bytes until resume()", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const first = concat(SMALL_CRC_INITIATE, encodeCrcFrame(payload(1, 10), true));
  await writeAll(client, first);
  deepEqual(await readExactly(server, first.length), first);

  rig.proxy.stall();
  const frame = encodeCrcFrame(payload(2, 10), true);
  const reply = hex("01 02 03");
  let arrived = 0;
  const toServer = readExactly(server, frame.length).then((bytes) => (arrived++, bytes));
  const toClient = readExactly(client, reply.length).then((bytes) => (arrived++, bytes));
  await writeAll(client, frame);
  await writeAll(server, reply);
  await clock.sleep(50);
  equal(arrived, 0, "nothing forwarded while stalled");

  rig.proxy.resume();
  deepEqual(await toServer, frame);
  deepEqual(await toClient, reply);
});

Deno.test("stall() stops reading so the sender's writes block", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  rig.proxy.stall();
  const total = 32 * 1024 * 1024;
  const chunk = new Uint8Array(64 * 1024).fill(0x5a);
  let written = 0;
  const writing = (async () => {
    while (written < total) written += await client.write(chunk.subarray(0, total - written));
  })();
  await clock.sleep(200);
  ok(written < total, `writes block: ${written} of ${total} bytes written`);
  equal(rig.proxy.bytesForwarded.initiatorToAcceptor, 0);

  rig.proxy.resume();
  const received = await readExactly(server, total);
  await writing;
  ok(received.every((b) => b === 0x5a));
});

Deno.test("cutAll() makes both ends read EOF and new connections still work", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  await writeAll(client, SMALL_CRC_INITIATE);
  await readExactly(server, SMALL_CRC_INITIATE.length);

  rig.proxy.cutAll();
  const buffer = new Uint8Array(16);
  equal(await client.read(buffer), null);
  equal(await server.read(buffer), null);
  await waitFor(() => rig.proxy.openConnections === 0, "connections closed");

  const again = await rig.connect();
  await writeAll(again.client, SMALL_CRC_INITIATE);
  deepEqual(await readExactly(again.server, SMALL_CRC_INITIATE.length), SMALL_CRC_INITIATE);
  equal(rig.proxy.connectionsAccepted, 2);
});

Deno.test("setDelay() delays forwarding in both directions", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const delayMs = 30;
  rig.proxy.setDelay(delayMs);
  equal(rig.proxy.delayMs, delayMs);
  const frame = concat(SMALL_CRC_INITIATE, encodeCrcFrame(payload(1, 10), true));

  let start = clock.monotonicNs();
  await writeAll(client, frame);
  await readExactly(server, frame.length);
  const forwardMs = (clock.monotonicNs() - start) / 1e6;
  ok(forwardMs >= delayMs, `initiator→acceptor took ${forwardMs} ms`);

  start = clock.monotonicNs();
  await writeAll(server, hex("00 00 00 0c"));
  await readExactly(client, 4);
  const backMs = (clock.monotonicNs() - start) / 1e6;
  ok(backMs >= delayMs, `acceptor→initiator took ${backMs} ms`);

  rig.proxy.setDelay(0);
  await writeAll(server, hex("01"));
  await readExactly(client, 1);
});

Deno.test("close() closes the listener and every connection", async () => {
  await using rig = await Rig.start();
  const { client, server } = await rig.connect();
  const address = rig.proxy.address;
  await rig.proxy.close();
  const buffer = new Uint8Array(4);
  equal(await client.read(buffer), null);
  equal(await server.read(buffer), null);
  await rejects(
    Deno.connect({ hostname: address.host, port: address.port }),
    Deno.errors.ConnectionRefused,
  );
  equal(rig.proxy.openConnections, 0);
});

Deno.test("an unreachable target closes the accepted connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await using proxy = await FaultProxy.start({ target: { host: "127.0.0.1", port } });
  const client = await Deno.connect({ hostname: proxy.address.host, port: proxy.address.port });
  try {
    equal(await client.read(new Uint8Array(4)), null);
    await waitFor(() => proxy.targetConnectFailures === 1, "the failure counted");
  } finally {
    client.close();
  }
});

Deno.test("start() rejects addresses outside 127.0.0.0/8 and bad settings", async () => {
  await rejects(FaultProxy.start({ target: { host: "10.0.0.1", port: 7000 } }), RangeError);
  await rejects(
    FaultProxy.start({ target: { host: "127.0.0.1", port: 7000 }, listenHost: "0.0.0.0" }),
    RangeError,
  );
  await rejects(
    FaultProxy.start({ target: { host: "127.0.0.1", port: 7000 }, queueCapacityBytes: 0 }),
    RangeError,
  );
});
