/**
 * A messaging node in its own process, for cross-process tests and the link benchmark.
 *
 * Usage: deno run --allow-net --allow-read --allow-env _messaging_node.ts <host> [port] [maxVersion]
 * Prints one JSON line `{"host":…,"port":…}` once listening, then serves until stdin closes.
 * Verbs: ECHO_REQ answers; custom RELAY_ECHO(address "host:port") echoes that peer and answers
 * (proves this process can reach a third node); custom SINK counts messages; custom SINK_COUNT
 * answers with the count as 8 bytes; custom SINK_WAIT(n as float64) answers once n SINK messages
 * have arrived.
 */

import { SystemClock } from "../../src/clock.ts";
import { MessagingService } from "../../src/net/messaging_service.ts";
import { TcpTransport } from "../../src/net/tcp_transport.ts";
import { rawBytesSerializer } from "../../src/wire/payload_serializers.ts";
import type { Verb } from "../../src/wire/verb.ts";
import { createVerbRegistry, ECHO_REQ, type VerbRegistry } from "../../src/wire/verbs.ts";

/** The test verbs, registered in the same order on every node so their ids agree. */
export interface TestVerbs {
  readonly verbs: VerbRegistry;
  readonly relay: Verb<Uint8Array>;
  readonly relayRsp: Verb<Uint8Array>;
  readonly sink: Verb<Uint8Array>;
  readonly count: Verb<Uint8Array>;
  readonly countRsp: Verb<Uint8Array>;
  readonly wait: Verb<Uint8Array>;
  readonly waitRsp: Verb<Uint8Array>;
}

/** Registers the test verbs in a fresh registry. */
export function testVerbRegistry(): TestVerbs {
  const verbs = createVerbRegistry();
  const relayRsp = verbs.registerCustom("RELAY_ECHO_RSP", 1, 10_000, rawBytesSerializer);
  const relay = verbs.registerCustom("RELAY_ECHO", 1, 10_000, rawBytesSerializer, relayRsp.id);
  const sink = verbs.registerCustom("SINK", 1, 60_000, rawBytesSerializer);
  const countRsp = verbs.registerCustom("SINK_COUNT_RSP", 1, 10_000, rawBytesSerializer);
  const count = verbs.registerCustom("SINK_COUNT", 1, 10_000, rawBytesSerializer, countRsp.id);
  const waitRsp = verbs.registerCustom("SINK_WAIT_RSP", 1, 120_000, rawBytesSerializer);
  const wait = verbs.registerCustom("SINK_WAIT", 1, 120_000, rawBytesSerializer, waitRsp.id);
  return { verbs, relay, relayRsp, sink, count, countRsp, wait, waitRsp };
}

if (import.meta.main) {
  const [host = "127.0.0.1", port = "0", maxVersion = "12"] = Deno.args;
  const clock = new SystemClock();
  const { verbs, relay, sink, count, wait } = testVerbRegistry();
  const service = new MessagingService({
    localAddress: { host, port: Number(port) },
    transport: new TcpTransport({ clock, readBufferSizeBytes: 256 * 1024 }),
    clock,
    verbs,
    config: { maxVersion: Number(maxVersion) },
  });
  await service.start();
  let received = 0;
  service.registerHandler(ECHO_REQ, (request, from) => service.respond(request, from, undefined));
  // SINK_WAIT(n) answers once n SINK messages have arrived in total.
  let waiters: Array<{ target: number; done: () => void }> = [];
  service.registerHandler(sink, () => {
    received++;
    if (waiters.length > 0 && received >= waiters[0]!.target) {
      const due = waiters.filter((w) => received >= w.target);
      waiters = waiters.filter((w) => received < w.target);
      for (const w of due) w.done();
    }
  });
  service.registerHandler(wait, (request, from) => {
    const target = new DataView(request.payload.buffer, request.payload.byteOffset).getFloat64(0);
    const done = () => service.respond(request, from, new Uint8Array(0));
    if (received >= target) done();
    else waiters.push({ target, done });
  });
  service.registerHandler(count, (request, from) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, received);
    service.respond(request, from, bytes);
  });
  service.registerHandler(relay, async (request, from) => {
    const text = new TextDecoder().decode(request.payload);
    const separator = text.lastIndexOf(":");
    const target = { host: text.slice(0, separator), port: Number(text.slice(separator + 1)) };
    await service.sendWithCallback(service.createMessage(ECHO_REQ, undefined), target);
    service.respond(request, from, new TextEncoder().encode("ok"));
  });
  console.log(JSON.stringify(service.localAddress));
  // Serve until the parent closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* ignore input */ }
  await service.close();
}
