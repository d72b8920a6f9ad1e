/**
 * A deterministic cluster simulator (DESIGN.md, test layer 3): N nodes of the real gossiper,
 * failure detector and messaging links over the in-memory network, on one manual clock, with
 * every random choice drawn from one seed. It injects message loss, latency, partitions, event
 * loop stalls, crashes (`kill -9`) and restarts. The same seed replays the same run.
 *
 * @module
 */

import { ManualClock } from "../../src/clock.ts";
import { GOSSIP_DIGEST_ACK, GOSSIP_DIGEST_ACK2, GOSSIP_DIGEST_SYN } from "../../src/wire/verbs.ts";
import { createVerbRegistry } from "../../src/wire/verbs.ts";
import { ApplicationState } from "../../src/wire/gossip_payloads.ts";
import type { InetAddressAndPort } from "../../src/wire/inet_address.ts";
import { Random } from "../../src/random.ts";
import { ConnectTimeoutError } from "../../src/net/errors.ts";
import { MemoryNetwork } from "../../src/net/memory_transport.ts";
import { MessagingService } from "../../src/net/messaging_service.ts";
import type { MessagingConfig } from "../../src/net/messaging_config.ts";
import type { Transport } from "../../src/net/transport.ts";
import { MemoryGenerationStore } from "../../src/cluster/generation_store.ts";
import type { GossipConfig } from "../../src/cluster/gossip_config.ts";
import { Gossiper, type GossipEvent } from "../../src/cluster/gossiper.ts";
import { NodeClock } from "./node_clock.ts";

/** Internode port of every simulated node. */
export const SIM_PORT = 7000;

/** Options of a {@link ClusterSim}. */
export interface ClusterSimOptions {
  /** The seed of every random choice. */
  readonly seed: number;
  /** Number of nodes. */
  readonly nodes: number;
  /** How many of the first nodes are seeds; default min(3, nodes). */
  readonly seedCount?: number;
  /** One-way latency of the network, ms; default 1. */
  readonly latencyMs?: number;
  /** Probability that a gossip message (SYN, ACK, ACK2) is lost; default 0. */
  readonly gossipLossProbability?: number;
  /** Gossip overrides (seeds are set by the simulator). */
  readonly gossip?: Partial<GossipConfig>;
  /** Whether nodes keep their membership events in `SimNode.events` (default true). */
  readonly recordEvents?: boolean;
  /** Messaging overrides per node (e.g. `maxVersion: 11` for an older release). */
  readonly messagingFor?: (index: number) => Partial<MessagingConfig>;
}

/** One event as a node saw it, with the simulated time. */
export interface SimEvent {
  /** Simulated monotonic ms. */
  readonly atMs: number;
  /** The event. */
  readonly event: GossipEvent;
}

/** One simulated process (a new incarnation after each restart). */
export class SimNode {
  /** Index in the cluster. */
  readonly index: number;
  /** Its address. */
  readonly address: InetAddressAndPort;
  /** Survives restarts, as the generation file does. */
  readonly generationStore = new MemoryGenerationStore();
  /** Events seen, across incarnations. */
  readonly events: SimEvent[] = [];
  /** Connects this node's transport attempted, across incarnations (links and liveness probes). */
  connectAttempts = 0;
  clock!: NodeClock;
  messaging!: MessagingService;
  gossiper!: Gossiper;
  /** Whether the process runs. */
  running = false;
  #dead = { value: false };

  constructor(index: number) {
    this.index = index;
    this.address = { host: hostOf(index), port: SIM_PORT };
  }

  /** `host:port`. */
  get key(): string {
    return `${this.address.host}:${SIM_PORT}`;
  }

  /** The transport of the current incarnation; once it died, it reaches nothing. */
  transportFor(network: MemoryNetwork): Transport {
    const dead = { value: false };
    this.#dead = dead;
    const inner = network.transport(this.address.host);
    return {
      listen: (address) => inner.listen(address),
      connect: (address, options) => {
        this.connectAttempts++;
        return dead.value
          ? Promise.reject(new ConnectTimeoutError("Cannot connect: this process is dead"))
          : inner.connect(address, options);
      },
    };
  }

  /** Marks the current incarnation dead. */
  die(): void {
    this.#dead.value = true;
    this.clock.kill();
    this.running = false;
  }
}

/** The address of node `index` (10.0.x.y). */
export function hostOf(index: number): string {
  return `10.0.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

/** A simulated cluster. */
export class ClusterSim {
  /** The shared clock. */
  readonly clock: ManualClock = new ManualClock();
  /** The shared network. */
  readonly network: MemoryNetwork;
  /** The simulation's random source (forks go to nodes). */
  readonly random: Random;
  /** The nodes. */
  readonly nodes: SimNode[] = [];
  /** The seeds' addresses. */
  readonly seeds: InetAddressAndPort[];
  /** Gossip messages dropped by injected loss. */
  droppedMessages = 0;
  /** Errors reported by any node (a test asserts there are none). */
  readonly errors: unknown[] = [];
  readonly #options: ClusterSimOptions;
  readonly #lossRandom: Random;

  constructor(options: ClusterSimOptions) {
    this.#options = options;
    this.random = new Random(options.seed);
    this.#lossRandom = this.random.fork();
    this.network = new MemoryNetwork({ clock: this.clock, latencyMs: options.latencyMs ?? 1 });
    for (let i = 0; i < options.nodes; i++) this.nodes.push(new SimNode(i));
    const seedCount = options.seedCount ?? Math.min(3, options.nodes);
    this.seeds = this.nodes.slice(0, seedCount).map((node) => node.address);
  }

  /** Simulated monotonic ms. */
  get nowMs(): number {
    return this.clock.monotonicNs() / 1_000_000;
  }

  /** Starts (or restarts) node `index`; resolves once its shadow round is over. */
  async start(index: number): Promise<void> {
    const node = this.nodes[index]!;
    if (node.running) throw new Error(`Cannot start node ${index}: it runs`);
    node.clock = new NodeClock(this.clock);
    const transport = node.transportFor(this.network);
    const loss = this.#options.gossipLossProbability ?? 0;
    node.messaging = new MessagingService({
      localAddress: node.address,
      transport,
      clock: node.clock,
      verbs: createVerbRegistry(),
      config: this.#options.messagingFor?.(index) ?? {},
      onError: (error) => this.errors.push(error),
      outboundFilter: (message) => {
        if (loss === 0) return true;
        const verb = message.verb;
        if (
          verb !== GOSSIP_DIGEST_SYN && verb !== GOSSIP_DIGEST_ACK && verb !== GOSSIP_DIGEST_ACK2
        ) {
          return true;
        }
        if (this.#lossRandom.nextFloat() >= loss) return true;
        this.droppedMessages++;
        return false;
      },
    });
    await node.messaging.start();
    node.gossiper = new Gossiper({
      messaging: node.messaging,
      transport,
      clock: node.clock,
      random: this.random.fork(),
      generationStore: node.generationStore,
      config: { ...this.#options.gossip, seeds: this.seeds },
      onError: (error) => this.errors.push(error),
    });
    if (this.#options.recordEvents ?? true) {
      node.gossiper.subscribe((event) => node.events.push({ atMs: this.nowMs, event }));
    }
    node.gossiper.setLocalState(ApplicationState.STATUS_WITH_PORT, `NORMAL,${index}`);
    node.gossiper.setLocalState(ApplicationState.DC, "dc1");
    node.gossiper.setLocalState(ApplicationState.RACK, `rack${(index % 3) + 1}`);
    node.running = true;
    const started = node.gossiper.start();
    let done = false;
    let failure: unknown;
    started.then(() => (done = true), (error) => {
      done = true;
      failure = error;
    });
    while (!done) await this.clock.advanceAsync(10);
    if (failure !== undefined) throw failure;
  }

  /** Starts every node, `staggerMs` apart, seeds first. */
  async startAll(staggerMs = 0): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) {
      await this.start(i);
      if (staggerMs > 0) await this.run(staggerMs);
    }
  }

  /** Advances simulated time by `ms` in steps of `stepMs`. */
  async run(ms: number, stepMs = 10): Promise<void> {
    const end = this.nowMs + ms;
    while (this.nowMs < end) await this.clock.advanceAsync(Math.min(stepMs, end - this.nowMs));
  }

  /** Runs until `done()` holds (checked every `checkEveryMs`) or `maxMs` passes; returns ms taken. */
  async runUntil(
    done: () => boolean,
    maxMs: number,
    checkEveryMs = 100,
  ): Promise<number | undefined> {
    const start = this.nowMs;
    while (this.nowMs - start <= maxMs) {
      if (done()) return this.nowMs - start;
      await this.run(checkEveryMs);
    }
    return done() ? this.nowMs - start : undefined;
  }

  /** Kills node `index` (`kill -9`): no shutdown announcement, its port refuses connections. */
  crash(index: number): void {
    const node = this.nodes[index]!;
    node.die();
    this.network.crash(node.address.host);
  }

  /** Stalls node `index`'s event loop: its timers stop and its network bytes are held. */
  pause(index: number): void {
    const node = this.nodes[index]!;
    node.clock.pause();
    this.network.setHostDown(node.address.host, true);
  }

  /** Ends a stall of node `index`. */
  resume(index: number): void {
    const node = this.nodes[index]!;
    this.network.setHostDown(node.address.host, false);
    node.clock.resume();
  }

  /** Gracefully stops node `index`: it announces shutdown, then closes. */
  async stop(index: number): Promise<void> {
    const node = this.nodes[index]!;
    await node.gossiper.close();
    await this.run(50);
    node.die();
    this.network.crash(node.address.host);
  }

  /** Cuts the nodes of `a` off from those of `b`. */
  partition(a: readonly number[], b: readonly number[]): void {
    this.network.partition(a.map(hostOf), b.map(hostOf));
  }

  /** Heals every partition. */
  heal(): void {
    this.network.heal();
  }

  /** Whether running node `observer` sees node `target` alive. */
  sees(observer: number, target: number): boolean {
    return this.nodes[observer]!.gossiper.isAlive(this.nodes[target]!.address);
  }

  /** Whether every running node sees every other running node alive and every stopped one down. */
  converged(): boolean {
    const running = this.nodes.filter((node) => node.running);
    for (const observer of running) {
      for (const target of this.nodes) {
        if (target === observer) continue;
        if (observer.gossiper.isAlive(target.address) !== target.running) return false;
      }
    }
    return true;
  }

  /** The generation node `observer` knows for node `target` (0 when unknown). */
  generationSeen(observer: number, target: number): number {
    return this.nodes[observer]!.gossiper.endpoint(this.nodes[target]!.address)?.generation ?? 0;
  }

  /** Stops every node without ceremony. */
  close(): void {
    for (const node of this.nodes) {
      if (node.running) {
        node.die();
        this.network.crash(node.address.host);
      }
    }
  }
}
