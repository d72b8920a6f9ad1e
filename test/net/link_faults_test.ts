/**
 * Links under injected faults (PROTOCOL.md §4, §7), through the fault proxy: node A sends to
 * node B via the proxy, which damages, stalls or cuts A's connections to B.
 */

import { equal, ok } from "node:assert/strict";
import { rawBytesSerializer } from "../../src/wire/payload_serializers.ts";
import { createVerbRegistry } from "../../src/wire/verbs.ts";
import type { Verb } from "../../src/wire/verb.ts";
import type { MessagingConfig } from "../../src/net/messaging_config.ts";
import { FaultProxy } from "../fault_proxy.ts";
import { closeAll, startNode, type TestNode, waitFor } from "./_nodes.ts";

interface Setup {
  a: TestNode;
  b: TestNode;
  proxy: FaultProxy;
  blob: Verb<Uint8Array>;
  received: number[];
  /** Sends `count` messages tagged from `first` through the proxy. */
  send(first: number, count: number, size?: number): void;
  inboundAtB(): Record<string, number>;
  outboundAtA(): Record<string, number>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function setup(configA: Partial<MessagingConfig> = {}): Promise<Setup> {
  const verbsA = createVerbRegistry();
  const verbsB = createVerbRegistry();
  const blob = verbsA.registerCustom("BLOB", 1, 30_000, rawBytesSerializer);
  const blobB = verbsB.registerCustom("BLOB", 1, 30_000, rawBytesSerializer);
  const a = await startNode({ host: "127.0.0.1", verbs: verbsA, config: configA });
  const b = await startNode({ host: "127.0.0.2", verbs: verbsB });
  const received: number[] = [];
  b.service.registerHandler(blobB, (m) => {
    received.push(new DataView(m.payload.buffer, m.payload.byteOffset).getUint32(0));
  });
  const proxy = await FaultProxy.start({ target: b.address, listenHost: "127.0.0.3" });
  return {
    a,
    b,
    proxy,
    blob,
    received,
    send(first, count, size = 64) {
      for (let i = first; i < first + count; i++) {
        const payload = new Uint8Array(size);
        new DataView(payload.buffer).setUint32(0, i);
        a.service.send(a.service.createMessage(blob, payload), proxy.address);
      }
    },
    inboundAtB: () => b.service.inboundMetrics().get(`127.0.0.1:${a.address.port}`) ?? {},
    outboundAtA: () =>
      a.service.outboundMetrics().get(`${proxy.address.host}:${proxy.address.port}`) ?? {},
    async [Symbol.asyncDispose]() {
      await closeAll(a, b);
      await proxy.close();
    },
  };
}

const range = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

Deno.test("a payload-corrupt frame loses only its own messages; the link survives", async () => {
  await using s = await setup();
  s.send(0, 10);
  await waitFor(() => s.received.length === 10, 5000, "first batch");
  s.proxy.corruptNextFramePayload({ type: 2 });
  s.send(10, 10); // one frame: all ten are lost with it
  await waitFor(() => s.inboundAtB().corrupt_frames_recovered === 1, 5000, "the corrupt frame");
  s.send(20, 10);
  await waitFor(() => s.received.length === 20, 5000, "third batch");
  equal(s.received.join(), [...range(0, 10), ...range(20, 10)].join());
  equal(s.outboundAtA().successful_connection_attempts, 1, "the connection was kept");
  equal(s.inboundAtB().corrupt_frames_unrecovered, 0);
});

Deno.test("a header-corrupt frame resets the link; the sender reconnects and later messages arrive", async () => {
  await using s = await setup();
  s.send(0, 10);
  await waitFor(() => s.received.length === 10, 5000, "first batch");
  s.proxy.corruptNextFrameHeader({ type: 2 });
  s.send(10, 10);
  await waitFor(() => s.inboundAtB().corrupt_frames_unrecovered === 1, 5000, "the reset");
  await waitFor(
    () => s.outboundAtA().active_connections === 0,
    5000,
    "the sender to see the reset",
  );
  s.send(20, 10);
  await waitFor(() => s.received.length === 20, 5000, "messages after the reset");
  equal(s.received.join(), [...range(0, 10), ...range(20, 10)].join());
  equal(s.outboundAtA().successful_connection_attempts, 2, "one reconnect");
});

Deno.test("a corrupt first frame of a large message resets the link; later messages arrive", async () => {
  await using s = await setup();
  s.proxy.corruptNextFramePayload({ type: 3 });
  s.send(0, 1, 200_000);
  await waitFor(() => s.inboundAtB().corrupt_frames_unrecovered === 1, 5000, "the reset");
  await waitFor(
    () => s.outboundAtA().active_connections === 0,
    5000,
    "the sender to see the reset",
  );
  s.send(1, 1, 200_000);
  s.send(2, 5);
  await waitFor(() => s.received.length === 6, 5000, "later messages");
  equal(s.received.slice().sort((x, y) => x - y).join(), range(1, 6).join());
});

Deno.test("a stalled peer fills the send side to its limits; further sends drop as overload", async () => {
  const KiB = 1024;
  await using s = await setup({
    sendQueueCapacityBytes: 64 * KiB,
    sendQueueReserveEndpointCapacityBytes: 128 * KiB,
    sendQueueReserveGlobalCapacityBytes: 256 * KiB,
    maxMessageSizeBytes: 64 * KiB,
  });
  s.send(0, 1);
  await waitFor(() => s.received.length === 1, 5000, "the connection");
  s.proxy.stall();
  // 40 MB offered: far beyond what TCP buffers, the link and the reserves can hold.
  for (let i = 0; i < 40; i++) {
    s.send(1 + i * 1000, 1000, 1000);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await waitFor(() => (s.outboundAtA().overload_count ?? 0) > 0, 10_000, "overload drops");
  const pending = s.outboundAtA().pending_bytes!;
  ok(pending <= (64 + 128) * KiB, `pending ${pending} bytes stays within link + endpoint reserve`);
  const dropped = s.outboundAtA().overload_count!;
  s.proxy.resume();
  await waitFor(() => s.outboundAtA().pending_bytes === 0, 10_000, "the queue to drain");
  await waitFor(() => s.received.length === 1 + 40_000 - dropped, 10_000, "every queued message");
  equal(s.outboundAtA().expired_count, 0);
});

Deno.test("a cut connection is re-established while messages wait", async () => {
  await using s = await setup();
  s.send(0, 5);
  await waitFor(() => s.received.length === 5, 5000, "first batch");
  s.proxy.cutAll();
  await waitFor(() => s.outboundAtA().active_connections === 0, 5000, "the cut to be seen");
  s.send(5, 5);
  await waitFor(() => s.received.length === 10, 5000, "messages after the cut");
  equal(s.outboundAtA().successful_connection_attempts, 2);
});

Deno.test("a message that expires in transit is dropped unread by the receiver", async () => {
  await using s = await setup();
  s.send(0, 1);
  await waitFor(() => s.received.length === 1, 5000, "the connection");
  s.proxy.setDelay(150);
  const payload = new Uint8Array(8);
  new DataView(payload.buffer).setUint32(0, 99);
  const message = s.a.service.createMessage(s.blob, payload, { expiresAtMs: Date.now() + 40 });
  s.a.service.send(message, s.proxy.address);
  await waitFor(() => s.inboundAtB().expired_count === 1, 5000, "the expired arrival");
  s.proxy.setDelay(0);
  s.send(1, 1);
  await waitFor(() => s.received.length === 2, 5000, "the next message");
  equal(s.received.join(), "0,1", "the expired message never reached its handler");
  equal(s.inboundAtB().processed_count, 2);
});
