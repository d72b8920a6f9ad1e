/**
 * Membership between real processes on 127.0.0.1–5 (TCP, real clocks): joining from one seed,
 * `kill -9` convicted within 3 s, a restart seen with a higher generation, a graceful stop seen
 * as shutdown at once, and a 5 s SIGSTOP convicting no one.
 */

import assert from "node:assert/strict";

const NODE_SCRIPT = new URL("./_gossip_node.ts", import.meta.url).pathname;

interface NodeEvent {
  readonly type: string;
  readonly key: string;
  readonly reason?: string;
  readonly generation?: number;
  /** `performance.now()` in this process when the line arrived. */
  readonly atMs: number;
}

class GossipChild {
  readonly events: NodeEvent[] = [];
  host: string;
  port = 0;
  generation = 0;
  readonly dir: string;
  #child: Deno.ChildProcess | undefined;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #pump: Promise<void> | undefined;

  constructor(host: string, dir: string) {
    this.host = host;
    this.dir = dir;
  }

  get key(): string {
    return `${this.host}:${this.port}`;
  }

  get pid(): number {
    return this.#child!.pid;
  }

  async start(seed: string, port = 0): Promise<void> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        NODE_SCRIPT,
        this.host,
        String(port),
        seed,
        this.dir,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    const { promise: readyLine, resolve: ready } = Promise.withResolvers<
      { port: number; generation: number }
    >();
    this.#pump = (async () => {
      let buffered = "";
      let first = true;
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        let newline;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          const line = JSON.parse(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
          if (first && "port" in line) {
            first = false;
            ready(line);
          } else {
            this.events.push({ ...line, atMs: performance.now() });
          }
        }
      }
    })();
    const line = await Promise.race([
      readyLine,
      child.status.then(() => {
        throw new Error(`node ${this.host} exited before it was ready`);
      }),
    ]);
    this.port = line.port;
    this.generation = line.generation;
  }

  /** Alive peers as this node's events tell. */
  alivePeers(): Set<string> {
    const alive = new Set<string>();
    for (const event of this.events) {
      if (event.type === "alive") alive.add(event.key);
      if (event.type === "dead" || event.type === "left") alive.delete(event.key);
    }
    return alive;
  }

  signal(signal: Deno.Signal): void {
    this.#child!.kill(signal);
  }

  async kill(): Promise<void> {
    this.#child!.kill("SIGKILL");
    await this.#child!.status;
    await this.#stdin!.close().catch(() => {});
    await this.#pump;
  }

  async stop(): Promise<void> {
    await this.#stdin!.close().catch(() => {});
    await this.#child!.status;
    await this.#pump;
  }
}

async function waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test({
  name: "5 processes join from one seed; kill -9, restart, SIGSTOP and graceful stop",
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "ringwire-gossip-" });
    const nodes: GossipChild[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const dir = `${root}/n${i}`;
        await Deno.mkdir(dir);
        nodes.push(new GossipChild(`127.0.0.${i + 1}`, dir));
      }
      await nodes[0]!.start("");
      const seed = nodes[0]!.key;
      await Promise.all(nodes.slice(1).map((node) => node.start(seed)));
      const allSeeAll = () =>
        nodes.every((node) =>
          nodes.every((peer) => peer === node || node.alivePeers().has(peer.key))
        );
      await waitFor("every node sees every other alive", allSeeAll, 20_000);

      // kill -9: every other node convicts it within 3 s.
      const victim = nodes[4]!;
      const oldGeneration = victim.generation;
      await new Promise((resolve) => setTimeout(resolve, 3000)); // heartbeats settle
      const killedAtMs = performance.now();
      await victim.kill();
      const others = nodes.slice(0, 4);
      const deadAt = (node: GossipChild) =>
        node.events.find((e) => e.type === "dead" && e.key === victim.key && e.atMs >= killedAtMs);
      await waitFor("every node sees the killed node DOWN", () => others.every(deadAt), 10_000);
      const delays = others.map((node) => Math.round(deadAt(node)!.atMs - killedAtMs));
      console.log(`kill -9 → DOWN at every peer after ${delays.join(", ")} ms`);
      assert.ok(delays.every((ms) => ms <= 3000), `conviction delays ${delays.join(", ")} ms`);
      assert.ok(others.every((node) => deadAt(node)!.reason === "refused"));

      // Restart on the same address: UP again with a higher generation.
      const restartedAtMs = performance.now();
      await victim.start(seed, victim.port);
      assert.ok(victim.generation > oldGeneration, "the restarted node kept its generation");
      const restarted = (node: GossipChild) =>
        node.events.some((e) =>
          e.atMs >= restartedAtMs && e.type === "restart" && e.key === victim.key &&
          (e.generation ?? 0) > oldGeneration
        ) && node.alivePeers().has(victim.key);
      await waitFor("every node sees the restarted node UP", () => others.every(restarted), 15_000);

      // A 5 s SIGSTOP convicts no one, on either side.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const stalledAtMs = performance.now();
      nodes[2]!.signal("SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, 5000));
      nodes[2]!.signal("SIGCONT");
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const falseDowns = nodes.flatMap((node) =>
        node.events.filter((e) => e.atMs >= stalledAtMs && e.type === "dead")
          .map((e) => `${node.key} saw ${e.key} dead (${e.reason})`)
      );
      assert.deepEqual(falseDowns, []);

      // Graceful stop: marked shutdown at once.
      const leaver = nodes[3]!;
      const stoppedAtMs = performance.now();
      await leaver.stop();
      const remaining = [nodes[0]!, nodes[1]!, nodes[2]!, nodes[4]!];
      const shutdownAt = (node: GossipChild) =>
        node.events.find((e) =>
          e.atMs >= stoppedAtMs && e.type === "dead" && e.key === leaver.key &&
          e.reason === "shutdown"
        );
      await waitFor(
        "every node sees the stopped node shut down",
        () => remaining.every(shutdownAt),
        5000,
      ).catch((error) => {
        for (const n of remaining) {
          console.log(
            n.key,
            JSON.stringify(n.events.filter((x) => x.key === leaver.key)),
          );
        }
        throw error;
      });
      const shutdownDelays = remaining.map((node) =>
        Math.round(shutdownAt(node)!.atMs - stoppedAtMs)
      );
      console.log(`graceful stop → shutdown at every peer after ${shutdownDelays.join(", ")} ms`);
      assert.ok(shutdownDelays.every((ms) => ms <= 1000));
    } finally {
      await Promise.all(nodes.map((node) => node.kill().catch(() => {})));
      await Deno.remove(root, { recursive: true });
    }
  },
});
