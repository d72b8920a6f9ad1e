/** Messaging between separate processes on 127.0.0.x. */

import { equal, ok } from "node:assert/strict";
import { SystemClock } from "../../src/clock.ts";
import { MessagingService } from "../../src/net/messaging_service.ts";
import { TcpTransport } from "../../src/net/tcp_transport.ts";
import type { InetAddressAndPort } from "../../src/wire/inet_address.ts";
import { ECHO_REQ } from "../../src/wire/verbs.ts";
import { testVerbRegistry } from "./_messaging_node.ts";
import { spawnReady } from "../_child_process.ts";

/** A node process; closing its stdin stops it. */
export interface NodeProcess {
  readonly address: InetAddressAndPort;
  stop(): Promise<void>;
}

/** Starts `_messaging_node.ts` in a child process on `host`. */
export async function spawnNode(host: string, maxVersion = 12): Promise<NodeProcess> {
  const child = await spawnReady<InetAddressAndPort>(Deno.execPath(), [
    "run",
    "--allow-net=127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4",
    "--allow-read",
    "--allow-env",
    new URL("./_messaging_node.ts", import.meta.url).pathname,
    host,
    "0",
    String(maxVersion),
  ]);
  return { address: child.first, stop: () => child.stop() };
}

Deno.test("three nodes in three processes reach each other", async () => {
  const clock = new SystemClock();
  const { verbs, relay } = testVerbRegistry();
  const local = new MessagingService({
    localAddress: { host: "127.0.0.1", port: 0 },
    transport: new TcpTransport({ clock }),
    clock,
    verbs,
  });
  await local.start();
  local.registerHandler(ECHO_REQ, (request, from) => local.respond(request, from, undefined));
  const b = await spawnNode("127.0.0.2");
  const c = await spawnNode("127.0.0.3");
  try {
    for (const target of [b.address, c.address]) {
      const response = await local.sendWithCallback(
        local.createMessage(ECHO_REQ, undefined),
        target,
      );
      equal(response.verb.name, "ECHO_RSP");
    }
    // B echoes C and the parent (process to process), then answers.
    for (const [via, target] of [[b, c.address], [c, local.localAddress]] as const) {
      const payload = new TextEncoder().encode(`${target.host}:${target.port}`);
      const answer = await local.sendWithCallback<Uint8Array>(
        local.createMessage(relay, payload),
        via.address,
      );
      equal(new TextDecoder().decode(answer.payload), "ok");
    }
    ok(local.inboundMetrics().size >= 2, "both child processes connected back to us");
  } finally {
    await local.close();
    await b.stop();
    await c.stop();
  }
});
