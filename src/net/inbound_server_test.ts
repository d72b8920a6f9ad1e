import { deepEqual, equal, ok } from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { createVerbRegistry, ECHO_REQ, ECHO_RSP, GOSSIP_DIGEST_SYN } from "../wire/verbs.ts";
import { MemoryNetwork } from "./memory_transport.ts";
import { MessagingService } from "./messaging_service.ts";
import type { Listener, Transport } from "./transport.ts";

/** A transport whose listener fails its next `failures` accepts, as with EMFILE. */
function flakyAccepts(inner: Transport, failures: number): Transport {
  return {
    connect: (address, options) => inner.connect(address, options),
    async listen(address): Promise<Listener> {
      const listener = await inner.listen(address);
      let left = failures;
      return {
        address: listener.address,
        accept() {
          if (left-- > 0) return Promise.reject(new Error("EMFILE: too many open files"));
          return listener.accept();
        },
        close: () => listener.close(),
      };
    },
  };
}

Deno.test("the inbound server reports accept errors, backs off and keeps accepting", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  const errors: string[] = [];
  const a = new MessagingService({
    localAddress: { host: "10.0.0.1", port: 7000 },
    transport: network.transport("10.0.0.1"),
    clock,
    verbs: createVerbRegistry(),
  });
  const b = new MessagingService({
    localAddress: { host: "10.0.0.2", port: 7000 },
    transport: flakyAccepts(network.transport("10.0.0.2"), 3),
    clock,
    verbs: createVerbRegistry(),
    onError: (error) => errors.push((error as Error).message),
  });
  await a.start();
  await b.start();
  b.registerHandler(ECHO_REQ, (request, from) => b.respond(request, from, undefined));
  let verb: string | undefined;
  const echo = a.sendWithCallback(a.createMessage(ECHO_REQ, undefined), b.localAddress)
    .then((response) => (verb = response.verb.name));
  for (let i = 0; i < 100 && verb === undefined; i++) await clock.advanceAsync(10);
  await echo;
  equal(verb, ECHO_RSP.name);
  deepEqual(errors, Array(3).fill("EMFILE: too many open files"));
  const closing = Promise.all([a.close(), b.close()]);
  for (let i = 0; i < 10; i++) await clock.advanceAsync(10);
  await closing;
});

Deno.test("closing while the accept loop backs off does not wait for the backoff", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  const errors: unknown[] = [];
  const node = new MessagingService({
    localAddress: { host: "10.0.0.2", port: 7000 },
    transport: flakyAccepts(network.transport("10.0.0.2"), 1000),
    clock,
    verbs: createVerbRegistry(),
    onError: (error) => errors.push(error),
  });
  await node.start();
  for (let i = 0; i < 5; i++) await clock.advanceAsync(10);
  ok(errors.length >= 2);
  await node.close(); // resolves without advancing the clock
  equal(clock.pendingTimers, 0);
});

Deno.test("a gossip message over its verb's size bound is refused to send and dropped on receipt", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  const start = async (host: string) => {
    const node = new MessagingService({
      localAddress: { host, port: 7000 },
      transport: network.transport(host),
      clock,
      verbs: createVerbRegistry(),
    });
    await node.start();
    return node;
  };
  const a = await start("10.0.0.1");
  const b = await start("10.0.0.2");
  let delivered = 0;
  b.registerHandler(GOSSIP_DIGEST_SYN, () => void delivered++);
  const address = { host: "10.0.0.9", port: 7000 };
  const digests = Array.from(
    { length: 300_000 },
    () => ({ address, generation: 1, maxVersion: 1 }),
  );
  const syn = { clusterName: "c", partitionerName: "p", digests };
  // Our own sender refuses it…
  a.send(a.createMessage(GOSSIP_DIGEST_SYN, syn), b.localAddress);
  equal(a.outboundMetrics().get("10.0.0.2:7000")?.error_count, 1);
  // …and a sender without the bound (an older or hostile peer) gets it dropped undecoded.
  const { maxSizeBytes: _bound, ...unbounded } = GOSSIP_DIGEST_SYN;
  a.send(a.createMessage(unbounded, syn), b.localAddress);
  for (
    let i = 0;
    i < 200 && (b.inboundMetrics().get("10.0.0.1:7000")?.error_count ?? 0) === 0;
    i++
  ) {
    await clock.advanceAsync(10);
  }
  equal(b.inboundMetrics().get("10.0.0.1:7000")?.error_count, 1);
  equal(delivered, 0);
  // The link survives: a normal SYN still arrives.
  a.send(
    a.createMessage(GOSSIP_DIGEST_SYN, { ...syn, digests: digests.slice(0, 3) }),
    b.localAddress,
  );
  for (let i = 0; i < 100 && delivered === 0; i++) await clock.advanceAsync(10);
  equal(delivered, 1);
  const closing = Promise.all([a.close(), b.close()]);
  for (let i = 0; i < 10; i++) await clock.advanceAsync(10);
  await closing;
});
