/** Messaging over real TCP on 127.0.0.x, several nodes in one process. */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { RequestFailedError, RequestTimeoutError } from "../../src/net/errors.ts";
import { ByteReader } from "../../src/wire/byte_reader.ts";
import { MalformedInputError } from "../../src/wire/errors.ts";
import type { PayloadSerializer } from "../../src/wire/payload_serializer.ts";
import { rawBytesSerializer, RequestFailureReason } from "../../src/wire/payload_serializers.ts";
import { createVerbRegistry } from "../../src/wire/verbs.ts";
import { closeAll, echo, startNode, startPair, type TestNode, waitFor } from "./_nodes.ts";

Deno.test("two nodes exchange requests and responses over TCP", async () => {
  let a: TestNode | undefined, b: TestNode | undefined;
  try {
    a = await startNode({ host: "127.0.0.1" });
    b = await startNode({ host: "127.0.0.2" });
    ok((await echo(a, b)) < 1000);
    ok((await echo(b, a)) < 1000);
    const versions = a.service.connectedVersions(b.address);
    equal(versions.urgent, 12, "ECHO is P0: it travels the urgent link at version 12");
  } finally {
    await closeAll(a, b);
  }
});

Deno.test("messages on one link arrive in order, packed into frames", async () => {
  await using pair = await startPair("TEST_BLOB", rawBytesSerializer);
  const { a, b, verbA: blobA, verbB: blobB } = pair;
  const seen: number[] = [];
  b.service.registerHandler(
    blobB,
    (message) => void seen.push(message.payload[0]! | (message.payload[1]! << 8)),
  );
  for (let i = 0; i < 5000; i++) {
    a.service.send(
      a.service.createMessage(blobA, Uint8Array.of(i & 0xff, i >> 8, 0, 0, 0, 0, 0, 0)),
      b.address,
    );
  }
  await waitFor(() => seen.length === 5000, 10_000, "5000 messages");
  deepEqual(seen, Array.from({ length: 5000 }, (_, i) => i));
  const outbound = a.service.outboundMetrics().get(`127.0.0.2:${b.address.port}`)!;
  equal(outbound.sent_count, 5000);
  equal(outbound.pending_bytes, 0);
  const inbound = b.service.inboundMetrics().get(`127.0.0.1:${a.address.port}`)!;
  equal(inbound.received_count, 5000);
  equal(inbound.processed_count, 5000);
});

Deno.test("three nodes each reach both others", async () => {
  const nodes: TestNode[] = [];
  try {
    for (const host of ["127.0.0.1", "127.0.0.2", "127.0.0.3"]) {
      nodes.push(await startNode({ host }));
    }
    for (const from of nodes) for (const to of nodes) if (from !== to) await echo(from, to);
    for (const node of nodes) equal(node.service.outboundMetrics().size, 2);
  } finally {
    await closeAll(...nodes);
  }
});

Deno.test("a message to the local node goes straight to its handler", async () => {
  let a: TestNode | undefined;
  try {
    a = await startNode();
    await echo(a, a);
    equal(a.service.outboundMetrics().size, 0, "nothing was sent over the network");
  } finally {
    await closeAll(a);
  }
});

Deno.test("large messages travel the large link and arrive intact", async () => {
  await using pair = await startPair("TEST_BLOB", rawBytesSerializer);
  const { a, b, verbA: blobA, verbB: blobB } = pair;
  const sums: number[] = [];
  b.service.registerHandler(
    blobB,
    (m) => void sums.push(m.payload.reduce((s, x) => (s + x) | 0, 0)),
  );
  const payload = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
  const expected = payload.reduce((s, x) => (s + x) | 0, 0);
  a.service.send(a.service.createMessage(blobA, payload), b.address);
  await waitFor(() => sums.length === 1, 10_000, "the large message");
  equal(sums[0], expected);
  equal(a.service.connectedVersions(b.address).large, 12);
});

Deno.test("an unknown verb fails the caller's promise in well under the timeout", async () => {
  const verbsA = createVerbRegistry();
  const onlyA = verbsA.registerCustom("ONLY_ON_A", 1, 10_000, rawBytesSerializer);
  let a: TestNode | undefined, b: TestNode | undefined;
  try {
    a = await startNode({ verbs: verbsA });
    b = await startNode({ host: "127.0.0.2" });
    const start = performance.now();
    await rejects(
      a.service.sendWithCallback(a.service.createMessage(onlyA, Uint8Array.of(1)), b.address),
      (error: unknown) =>
        error instanceof RequestFailedError && error.reason === RequestFailureReason.UNKNOWN,
    );
    ok(performance.now() - start < 2000, "answered at once, not at the 10 s timeout");
    equal(b.service.inboundMetrics().get(`127.0.0.1:${a.address.port}`)!.error_count, 1);
    await echo(a, b); // the link stays up
  } finally {
    await closeAll(a, b);
  }
});

const int32Serializer: PayloadSerializer<number> = {
  serializedSize: () => 4,
  write: (value, out) => out.writeInt32(value),
  read: (input: ByteReader) => {
    const value = input.readInt32();
    if (value < 0) throw Object.assign(new MalformedInputError("negative"), { failureReason: 3 });
    return value;
  },
};

Deno.test("a payload that fails to deserialize is skipped and answered with FAILURE_RSP", async () => {
  await using pair = await startPair("INT_VERB", int32Serializer);
  const { a, b, verbA: sendA, verbB: recvB } = pair;
  const handled: number[] = [];
  b.service.registerHandler(recvB, (m) => void handled.push(m.payload));
  const start = performance.now();
  await rejects(
    a.service.sendWithCallback(a.service.createMessage(sendA, -5), b.address),
    (error: unknown) =>
      error instanceof RequestFailedError &&
      error.reason === RequestFailureReason.INCOMPATIBLE_SCHEMA,
  );
  ok(performance.now() - start < 2000);
  a.service.send(a.service.createMessage(sendA, 42), b.address);
  await waitFor(() => handled.length === 1, 5000, "the next message on the same link");
  deepEqual(handled, [42]);
});

Deno.test("a handler that throws answers FAILURE_RSP with its reason", async () => {
  await using pair = await startPair("FAILING", rawBytesSerializer);
  const { a, b, verbA: verbA, verbB: verbB } = pair;
  b.service.registerHandler(verbB, async () => {
    await Promise.resolve();
    throw Object.assign(new Error("disk full"), {
      failureReason: RequestFailureReason.STORAGE_FAILURE,
    });
  });
  await rejects(
    a.service.sendWithCallback(a.service.createMessage(verbA, Uint8Array.of()), b.address),
    (error: unknown) =>
      error instanceof RequestFailedError &&
      error.reason === RequestFailureReason.STORAGE_FAILURE,
  );
});

Deno.test("a request nobody answers fails with RequestTimeoutError at its expiry", async () => {
  await using pair = await startPair("SILENT", rawBytesSerializer);
  const { a, b, verbA: verbA, verbB: verbB } = pair;
  b.service.registerHandler(verbB, () => {});
  const start = performance.now();
  const message = a.service.createMessage(verbA, Uint8Array.of(), {
    expiresAtMs: Date.now() + 300,
  });
  await rejects(a.service.sendWithCallback(message, b.address), RequestTimeoutError);
  const elapsed = performance.now() - start;
  ok(elapsed >= 250 && elapsed < 2000, `timed out after ${elapsed} ms`);
  equal(a.service.pendingCallbacks, 0);
});

Deno.test("internode_compression all: links use LZ4 frames and messages arrive intact", async () => {
  await using pair = await startPair("TEST_BLOB", rawBytesSerializer, {
    a: { config: { internodeCompression: "all" } },
  });
  const { a, b, verbA: blobA, verbB: blobB } = pair;
  const got: string[] = [];
  b.service.registerHandler(blobB, (m) => void got.push(new TextDecoder().decode(m.payload)));
  const small = "ringwire ".repeat(50);
  const large = "compressible ".repeat(20_000);
  a.service.send(a.service.createMessage(blobA, new TextEncoder().encode(small)), b.address);
  a.service.send(a.service.createMessage(blobA, new TextEncoder().encode(large)), b.address);
  await waitFor(() => got.length === 2, 5000, "both messages");
  deepEqual(got.map((s) => s.length).sort((x, y) => x - y), [small.length, large.length]);
  const inbound = b.service.inboundMetrics().get(`127.0.0.1:${a.address.port}`)!;
  const outbound = a.service.outboundMetrics().get(`127.0.0.2:${b.address.port}`)!;
  ok(
    inbound.received_bytes === outbound.sent_bytes,
    "sizes are counted uncompressed on both sides",
  );
  await echo(a, b);
});

Deno.test("the maximum message size is enforced by the sender and by the receiver", async () => {
  await using pair = await startPair("TEST_BLOB", rawBytesSerializer, {
    a: { config: { maxMessageSizeBytes: 256 * 1024 } },
    b: { config: { maxMessageSizeBytes: 64 * 1024 } },
  });
  const { a, b, verbA: blobA, verbB: blobB } = pair;
  const got: number[] = [];
  b.service.registerHandler(blobB, (m) => void got.push(m.payload.length));
  // Over the sender's own limit: refused before it is queued.
  await rejects(
    a.service.sendWithCallback(
      a.service.createMessage(blobA, new Uint8Array(300_000)),
      b.address,
    ),
    (error: unknown) => error instanceof Error && error.name === "SendFailedError",
  );
  // Within the sender's limit, over the receiver's: skipped by its size at B.
  a.service.send(a.service.createMessage(blobA, new Uint8Array(100_000)), b.address);
  a.service.send(a.service.createMessage(blobA, new Uint8Array(10)), b.address);
  await waitFor(() => got.length === 1, 5000, "the small message");
  deepEqual(got, [10]);
  const inbound = b.service.inboundMetrics().get(`127.0.0.1:${a.address.port}`)!;
  equal(inbound.error_count, 1, "the oversized message counted as an error");
  ok(inbound.error_bytes > 100_000);
});
