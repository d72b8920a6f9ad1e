import { deepEqual, equal, ok } from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { createVerbRegistry, ECHO_REQ, ECHO_RSP } from "../wire/verbs.ts";
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
