/**
 * A gossiping node in its own process, for the real-process membership tests.
 *
 * Usage: deno run --allow-net --allow-read --allow-write _gossip_node.ts <host> <port> <seed> <dir>
 * (`seed` is `host:port`; `dir` keeps the generation file across restarts). Prints one JSON line
 * `{"host","port","generation"}` once gossiping, then one JSON line per membership event
 * (`{"type","key","reason"?,"generation"?}`). Closing stdin (or SIGTERM) stops it gracefully:
 * it announces shutdown, drains its links and exits.
 */

import { SystemClock } from "../../src/clock.ts";
import { FileGenerationStore } from "../../src/cluster/generation_store.ts";
import { Gossiper } from "../../src/cluster/gossiper.ts";
import { MessagingService } from "../../src/net/messaging_service.ts";
import { TcpTransport } from "../../src/net/tcp_transport.ts";
import { Random } from "../../src/random.ts";
import { announcementStates } from "../../src/cluster/node_announcement.ts";
import { allocateTokens } from "../../src/cluster/token_allocation.ts";
import { createVerbRegistry } from "../../src/wire/verbs.ts";

if (import.meta.main) {
  const [host = "127.0.0.1", port = "0", seed = "", dir = "."] = Deno.args;
  const [seedHost = "", seedPort = "0"] = seed.split(":");
  const clock = new SystemClock();
  const transport = new TcpTransport({ clock });
  const messaging = new MessagingService({
    localAddress: { host, port: Number(port) },
    transport,
    clock,
    verbs: createVerbRegistry(),
  });
  await messaging.start();
  const seeds = seedHost === ""
    ? [messaging.localAddress]
    : [{ host: seedHost, port: Number(seedPort) }];
  const gossiper = new Gossiper({
    messaging,
    transport,
    clock,
    random: Random.fromEntropy(),
    generationStore: new FileGenerationStore(`${dir}/gossip_generation`),
    config: { clusterName: "process-test", seeds },
  });
  const encoder = new TextEncoder();
  const print = (value: unknown) =>
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
  gossiper.subscribe((event) => {
    if (event.type === "change") return;
    print({
      type: event.type,
      key: event.key,
      ...("reason" in event ? { reason: event.reason } : {}),
      ...("generation" in event ? { generation: event.generation } : {}),
    });
  });
  const random = Random.fromEntropy();
  const tokens = allocateTokens({ existing: [], numTokens: 16, random });
  const states = announcementStates({
    hostId: crypto.randomUUID(),
    dc: "dc1",
    rack: "rack1",
    tokens,
    status: { kind: "NORMAL", token: tokens[0]! },
    messagingVersion: messaging.config.maxVersion,
    releaseVersion: "0.1.0-dev",
    nativeAddress: { host, port: 0 },
  });
  for (const [ordinal, value] of states) gossiper.setLocalState(ordinal, value);
  await gossiper.start();
  print({ host, port: messaging.localAddress.port, generation: gossiper.generation });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gossiper.close();
    await messaging.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop());
  for await (const _ of Deno.stdin.readable) {
    // Nothing to read: the parent closes stdin to stop us.
  }
  await stop();
}
