import { deepEqual, equal, ok } from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { FramedMessageReader } from "../wire/framed_message_reader.ts";
import type { Message } from "../wire/message.ts";
import { decodeScannedMessage, messageSerializedSize } from "../wire/message_codec.ts";
import { rawBytesSerializer } from "../wire/payload_serializers.ts";
import { createVerbRegistry } from "../wire/verbs.ts";
import { ConnectionRefusedError } from "./errors.ts";
import { OutboundMetrics } from "./link_metrics.ts";
import { MemoryNetwork } from "./memory_transport.ts";
import { resolveMessagingConfig } from "./messaging_config.ts";
import { type EstablishedConnection, type LinkType, OutboundLink } from "./outbound_link.ts";
import { EndpointAndGlobalReserve, ResourceLimit } from "./resource_limit.ts";
import type { Connection, Listener } from "./transport.ts";

const verbs = createVerbRegistry();
const BLOB = verbs.registerCustom("TEST_BLOB", 1, 2000, rawBytesSerializer);
const PEER = { host: "10.0.0.2", port: 7000 };
const LOCAL = { host: "10.0.0.1", port: 7000 };

interface Harness {
  clock: ManualClock;
  network: MemoryNetwork;
  link: OutboundLink;
  metrics: OutboundMetrics;
  dropped: Array<[number, string]>;
  connects: number[];
  listener: Listener | undefined;
  accepted: Connection[];
}

async function harness(
  options: {
    type?: LinkType;
    listen?: boolean;
    config?: Parameters<typeof resolveMessagingConfig>[0];
    reserveBytes?: number;
    pipeCapacityBytes?: number;
  } = {},
): Promise<Harness> {
  const clock = new ManualClock();
  const network = new MemoryNetwork({
    clock,
    pipeCapacityBytes: options.pipeCapacityBytes ?? 1 << 20,
  });
  const config = resolveMessagingConfig(options.config);
  const metrics = new OutboundMetrics();
  const dropped: Array<[number, string]> = [];
  const connects: number[] = [];
  const accepted: Connection[] = [];
  const listener = options.listen === false
    ? undefined
    : await network.transport(PEER.host).listen(PEER);
  const reserveBytes = options.reserveBytes ?? 1 << 20;
  const transport = network.transport(LOCAL.host);
  const link = new OutboundLink({
    peer: PEER,
    type: options.type ?? "small",
    localAddress: LOCAL,
    clock,
    config,
    reserve: new EndpointAndGlobalReserve(
      new ResourceLimit(reserveBytes),
      new ResourceLimit(reserveBytes),
    ),
    metrics,
    hooks: {
      connect: async (): Promise<EstablishedConnection> => {
        connects.push(clock.nowMs());
        const connection = await transport.connect(PEER, { timeoutMs: 1000 });
        return { connection, version: 12, framing: "crc" };
      },
      onDropped: (message, error) => dropped.push([message.id, error.name]),
    },
  });
  if (listener !== undefined) {
    (async () => {
      for (let c = await listener.accept(); c !== null; c = await listener.accept()) {
        accepted.push(c);
      }
    })();
  }
  return { clock, network, link, metrics, dropped, connects, listener, accepted };
}

let nextId = 1;
function blob(clock: ManualClock, size: number, expiresInMs = 2000): Message<Uint8Array> {
  const nowMs = clock.nowMs();
  return {
    id: nextId++,
    verb: BLOB,
    createdAtMs: nowMs,
    expiresAtMs: nowMs + expiresInMs,
    flags: 0,
    params: undefined,
    payload: new Uint8Array(size).fill(7),
  };
}

function enqueue(h: Harness, message: Message<Uint8Array>): boolean {
  return h.link.enqueue(message, messageSerializedSize(message, 12));
}

/** Reads everything the peer side has received so far and decodes the messages. */
async function receive(connection: Connection, count: number): Promise<number[]> {
  const reader = new FramedMessageReader("crc", { version: 12, maxMessageSizeBytes: 1 << 27 });
  const ids: number[] = [];
  while (ids.length < count) {
    const chunk = await connection.read();
    if (chunk === null) break;
    reader.push(chunk);
    for (let e = reader.next(); e !== undefined; e = reader.next()) {
      if (e.kind === "message") {
        ids.push(
          decodeScannedMessage(e.buf, e.offset, e.end, e.header, 12, { verbs, nowMs: 0 }).id,
        );
      }
    }
  }
  return ids;
}

async function settle(h: Harness, ms = 0): Promise<void> {
  await h.clock.advanceAsync(ms);
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function shutdown(h: Harness): Promise<void> {
  await h.link.close(false);
  h.listener?.close();
  for (const c of h.accepted) c.close();
  await settle(h);
}

import { setImmediate } from "node:timers";

Deno.test("queued messages are connected for, packed into frames and delivered in order", async () => {
  const h = await harness();
  const messages = Array.from({ length: 1000 }, () => blob(h.clock, 100));
  for (const m of messages) ok(enqueue(h, m));
  await settle(h);
  equal(h.connects.length, 1);
  const ids = await receive(h.accepted[0]!, messages.length);
  deepEqual(ids, messages.map((m) => m.id));
  await settle(h);
  equal(h.metrics.sentCount, 1000);
  equal(h.metrics.pendingBytes, 0);
  equal(h.metrics.activeConnections, 1);
  await shutdown(h);
});

Deno.test("a stalled peer fills the link, then the reserves, then sends are dropped as overload", async () => {
  const h = await harness({
    config: { sendQueueCapacityBytes: 10_000 },
    reserveBytes: 5_000,
    pipeCapacityBytes: 2_000,
  });
  let queued = 0;
  const results: boolean[] = [];
  for (let i = 0; i < 400; i++) {
    const ok = enqueue(h, blob(h.clock, 100));
    results.push(ok);
    if (ok) queued++;
    if (i % 50 === 0) await settle(h);
  }
  await settle(h);
  ok(h.metrics.overloadCount > 0, "some sends were refused");
  equal(h.metrics.overloadCount + queued, 400);
  ok(
    h.metrics.pendingBytes <= 15_000,
    `pending ${h.metrics.pendingBytes} stays within link + reserve`,
  );
  ok(h.dropped.every(([, name]) => name === "OverloadedError"));
  equal(h.dropped.length, h.metrics.overloadCount);
  await shutdown(h);
});

Deno.test("a peer that refuses connections is retried with backoff up to 1 s while messages wait", async () => {
  const h = await harness({ listen: false });
  enqueue(h, blob(h.clock, 10, 10_000));
  for (let i = 0; i < 400; i++) await settle(h, 10);
  const gaps = h.connects.slice(1).map((t, i) => t - h.connects[i]!);
  deepEqual(gaps.slice(0, 6), [100, 200, 400, 800, 1000, 1000]);
  await shutdown(h);
});

Deno.test("messages expire while disconnected and the link then stops retrying", async () => {
  const h = await harness({ listen: false });
  enqueue(h, blob(h.clock, 10, 300));
  enqueue(h, blob(h.clock, 10, 5_000));
  await settle(h, 400);
  deepEqual(h.dropped.map(([, name]) => name), ["MessageExpiredError"]);
  equal(h.metrics.expiredCount, 1);
  for (let i = 0; i < 30; i++) await settle(h, 250);
  equal(h.metrics.expiredCount, 2);
  const attempts = h.connects.length;
  for (let i = 0; i < 10; i++) await settle(h, 1000);
  equal(h.connects.length, attempts, "no reconnects once nothing waits");
  equal(h.clock.pendingTimers, 0);
  await shutdown(h);
});

Deno.test("a link that cannot connect does not borrow from the reserves", async () => {
  const h = await harness({ listen: false, config: { sendQueueCapacityBytes: 2_000 } });
  enqueue(h, blob(h.clock, 100, 60_000));
  await settle(h, 10);
  let refused = 0;
  for (let i = 0; i < 40; i++) if (!enqueue(h, blob(h.clock, 100, 60_000))) refused++;
  ok(refused > 0);
  ok(h.metrics.pendingBytes <= 2_000);
  equal(h.metrics.usingReserveBytes, 0);
  await shutdown(h);
});

Deno.test("a write that stalls past the application timeout closes the connection and fails its messages", async () => {
  const h = await harness({ config: { applicationTimeoutMs: 30_000 }, pipeCapacityBytes: 1_000 });
  for (let i = 0; i < 50; i++) enqueue(h, blob(h.clock, 200, 120_000));
  await settle(h);
  equal(h.metrics.activeConnections, 1);
  await settle(h, 29_000);
  equal(h.metrics.errorCount, 0);
  await settle(h, 2_000);
  ok(h.metrics.errorCount > 0, "the stalled frame's messages failed");
  ok(h.dropped.some(([, name]) => name === "SendFailedError"));
  await shutdown(h);
});

Deno.test("close(drain) writes queued messages before closing", async () => {
  const h = await harness();
  const messages = Array.from({ length: 20 }, () => blob(h.clock, 1000));
  for (const m of messages) enqueue(h, m);
  const closing = h.link.close(true);
  await settle(h);
  const ids = await receive(h.accepted[0]!, 20);
  await closing;
  deepEqual(ids, messages.map((m) => m.id));
  equal(h.dropped.length, 0);
  equal(enqueue(h, blob(h.clock, 1)), false, "a closed link refuses messages");
  await shutdown(h);
});

Deno.test("the large link cuts a message into 32 KiB frames", async () => {
  const h = await harness({ type: "large" });
  const message = blob(h.clock, 200_000);
  enqueue(h, message);
  await settle(h);
  const ids = await receive(h.accepted[0]!, 1);
  deepEqual(ids, [message.id]);
  await shutdown(h);
});

Deno.test("connect errors reach the link as a retry, not a crash", async () => {
  const h = await harness({ listen: false });
  enqueue(h, blob(h.clock, 1, 500));
  await settle(h, 600);
  ok(h.connects.length >= 1);
  ok(h.dropped.length === 1);
  ok(ConnectionRefusedError.name === "ConnectionRefusedError");
  await shutdown(h);
});

Deno.test("an idle link closes its connection and reconnects for the next message", async () => {
  const h = await harness({ config: { idleConnectionTimeoutMs: 60_000 } });
  enqueue(h, blob(h.clock, 10));
  await settle(h);
  equal(h.metrics.activeConnections, 1);
  await settle(h, 59_000);
  equal(h.metrics.activeConnections, 1);
  await settle(h, 2_000);
  equal(h.metrics.activeConnections, 0, "dormant after the idle timeout");
  enqueue(h, blob(h.clock, 10));
  await settle(h);
  equal(h.metrics.activeConnections, 1);
  equal(h.connects.length, 2);
  await shutdown(h);
});
