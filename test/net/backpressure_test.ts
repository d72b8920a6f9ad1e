/**
 * Byte limits under a slow receiver (PROTOCOL.md §7): the receiver stops reading when its
 * capacity is exhausted, the sender's link and reserves fill, further sends are dropped as
 * overload with memory bounded, and urgent messages keep flowing on their own link.
 */

import { equal, ok } from "node:assert/strict";
import { rawBytesSerializer } from "../../src/wire/payload_serializers.ts";
import { createVerbRegistry } from "../../src/wire/verbs.ts";
import { closeAll, echo, startNode, type TestNode, waitFor } from "./_nodes.ts";

const KiB = 1024;

Deno.test("a stalled receiver fills the small link; urgent messages keep flowing", async () => {
  const verbsA = createVerbRegistry();
  const verbsB = createVerbRegistry();
  const blobA = verbsA.registerCustom("SLOW_BLOB", 1, 60_000, rawBytesSerializer);
  const blobB = verbsB.registerCustom("SLOW_BLOB", 1, 60_000, rawBytesSerializer);
  let a: TestNode | undefined, b: TestNode | undefined;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  try {
    a = await startNode({
      verbs: verbsA,
      config: {
        sendQueueCapacityBytes: 256 * KiB,
        sendQueueReserveEndpointCapacityBytes: 512 * KiB,
        sendQueueReserveGlobalCapacityBytes: 1024 * KiB,
        maxMessageSizeBytes: 64 * KiB,
      },
    });
    b = await startNode({
      host: "127.0.0.2",
      verbs: verbsB,
      config: {
        receiveQueueCapacityBytes: 64 * KiB,
        receiveQueueReserveEndpointCapacityBytes: 128 * KiB,
        receiveQueueReserveGlobalCapacityBytes: 256 * KiB,
        maxMessageSizeBytes: 64 * KiB,
      },
    });
    let handled = 0;
    // Every handler waits on the gate: B's receive capacity is never returned until released.
    b.service.registerHandler(blobB, async () => {
      handled++;
      await gate;
    });
    const payload = new Uint8Array(1000);
    let refused = 0;
    for (let i = 0; i < 8000; i++) {
      const message = a.service.createMessage(blobA, payload);
      a.service.sendWithCallback(message, b.address).catch((error) => {
        if (error.name === "OverloadedError") refused++;
      });
      if (i % 500 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const peerKey = `127.0.0.2:${b.address.port}`;
    await waitFor(() => refused > 0, 10_000, "overload drops");
    const outbound = a.service.outboundMetrics().get(peerKey)!;
    ok(outbound.overload_count > 0, "sends beyond the limits were dropped as overload");
    ok(
      outbound.pending_bytes <= (256 + 512) * KiB,
      `sender memory bounded: ${outbound.pending_bytes} bytes pending`,
    );
    const inbound = b.service.inboundMetrics().get(`127.0.0.1:${a.address.port}`)!;
    ok(inbound.using_bytes <= (64 + 128) * KiB, `receiver holds ${inbound.using_bytes} bytes`);
    ok(inbound.throttled_count > 0, "the receiver stopped reading for lack of capacity");

    // The urgent link is separate: ECHO still round-trips quickly.
    const rtt = await echo(a, b);
    ok(rtt < 500, `urgent round trip took ${rtt} ms while the small link is saturated`);

    release();
    await waitFor(
      () => a!.service.outboundMetrics().get(peerKey)!.pending_bytes === 0,
      20_000,
      "drain",
    );
    await waitFor(() => handled === 8000 - refused, 20_000, "every accepted message handled");
    // Every message not refused was sent, plus the one ECHO_REQ on the urgent link.
    equal(a.service.outboundMetrics().get(peerKey)!.sent_count, 8000 - refused + 1);
  } finally {
    release?.();
    await closeAll(a, b);
  }
});
