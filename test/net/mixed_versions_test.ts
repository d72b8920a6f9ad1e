/** Nodes of two messaging versions in one cluster (PROTOCOL.md §6): what each pair speaks. */

import { equal } from "node:assert/strict";
import { closeAll, echo, startNode, type TestNode, waitFor } from "./_nodes.ts";

// Legacy (v11) addresses carry no port: nodes of a mixed cluster share one storage port, so
// each node here gets its own loopback IP and the same port.
const PORT = 17_000 + Math.floor(Math.random() * 20_000);

Deno.test("a max-11 node and a max-12 node talk version 11, both ways", async () => {
  let old: TestNode | undefined, current: TestNode | undefined;
  try {
    old = await startNode({ host: "127.0.0.1", port: PORT, config: { maxVersion: 11 } });
    current = await startNode({ host: "127.0.0.2", port: PORT });
    await echo(current, old);
    await echo(old, current);
    equal(current.service.connectedVersions(old.address).urgent, 11);
    equal(old.service.connectedVersions(current.address).urgent, 11);
    equal(current.service.peerMessagingVersion(old.address), 11);
  } finally {
    await closeAll(old, current);
  }
});

Deno.test("two max-12 nodes talk version 12 while a max-11 node is in the cluster", async () => {
  let old: TestNode | undefined, a: TestNode | undefined, b: TestNode | undefined;
  try {
    old = await startNode({ host: "127.0.0.1", port: PORT + 1, config: { maxVersion: 11 } });
    a = await startNode({ host: "127.0.0.2", port: PORT + 1 });
    b = await startNode({ host: "127.0.0.3", port: PORT + 1 });
    for (const [from, to] of [[a, old], [b, old], [a, b], [b, a], [old, a]] as const) {
      await echo(from, to);
    }
    equal(a.service.connectedVersions(b.address).urgent, 12);
    equal(b.service.connectedVersions(a.address).urgent, 12);
    equal(a.service.connectedVersions(old.address).urgent, 11);
  } finally {
    await closeAll(old, a, b);
  }
});

Deno.test("a node restarted with a higher max is then spoken to at 12", async () => {
  let node: TestNode | undefined, peer: TestNode | undefined;
  try {
    node = await startNode({ host: "127.0.0.1", port: PORT + 2, config: { maxVersion: 11 } });
    peer = await startNode({ host: "127.0.0.2", port: PORT + 2 });
    await echo(peer, node);
    equal(peer.service.connectedVersions(node.address).urgent, 11);

    // Restart the node as an upgraded release on the same address.
    await node.service.close();
    node = await startNode({ host: "127.0.0.1", port: PORT + 2 });
    // Gossip would announce the new NET_VERSION; the links reconnect at it.
    peer.service.setPeerMessagingVersion(node.address, 12);
    await waitFor(
      () => peer!.service.connectedVersions(node!.address).urgent !== 11,
      5000,
      "reconnect",
    );
    await echo(peer, node);
    equal(peer.service.connectedVersions(node.address).urgent, 12);
    await echo(node, peer);
    equal(node.service.connectedVersions(peer.address).urgent, 12);
  } finally {
    await closeAll(node, peer);
  }
});

Deno.test("without gossip, the old version learned is retried upward after a restart", async () => {
  let node: TestNode | undefined, peer: TestNode | undefined;
  try {
    node = await startNode({ host: "127.0.0.1", port: PORT + 3, config: { maxVersion: 11 } });
    peer = await startNode({ host: "127.0.0.2", port: PORT + 3 });
    await echo(peer, node);
    await node.service.close();
    node = await startNode({ host: "127.0.0.1", port: PORT + 3 });
    // The peer still asks for 11 (what it learned), the upgraded node answers 12: retry at 12.
    await waitFor(
      () => peer!.service.connectedVersions(node!.address).urgent === undefined,
      5000,
      "link drop",
    );
    await echo(peer, node);
    equal(peer.service.connectedVersions(node.address).urgent, 12);
  } finally {
    await closeAll(node, peer);
  }
});

Deno.test("nodes with no version in common do not connect", async () => {
  let old: TestNode | undefined, current: TestNode | undefined;
  try {
    old = await startNode({
      host: "127.0.0.1",
      port: PORT + 4,
      config: { minVersion: 11, maxVersion: 11 },
    });
    current = await startNode({ host: "127.0.0.2", port: PORT + 4, config: { minVersion: 12 } });
    const message = current.service.createMessage(
      (await import("../../src/wire/verbs.ts")).ECHO_REQ,
      undefined,
      { expiresAtMs: Date.now() + 500 },
    );
    let failed = false;
    await current.service.sendWithCallback(message, old.address).catch(() => (failed = true));
    equal(failed, true);
    equal(current.service.connectedVersions(old.address).urgent, undefined);
  } finally {
    await closeAll(old, current);
  }
});
