/** Helpers for links tests: messaging services on loopback addresses, torn down together. */

import { SystemClock } from "../../src/clock.ts";
import type { MessagingConfig } from "../../src/net/messaging_config.ts";
import { MessagingService } from "../../src/net/messaging_service.ts";
import { TcpTransport } from "../../src/net/tcp_transport.ts";
import type { InetAddressAndPort } from "../../src/wire/inet_address.ts";
import type { PayloadSerializer } from "../../src/wire/payload_serializer.ts";
import type { Verb } from "../../src/wire/verb.ts";
import { createVerbRegistry, ECHO_REQ, type VerbRegistry } from "../../src/wire/verbs.ts";

/** Options of one test node. */
export interface TestNodeOptions {
  /** Loopback host, e.g. 127.0.0.2. */
  readonly host?: string;
  /** Port; 0 picks a free one. */
  readonly port?: number;
  /** Messaging overrides (e.g. maxVersion 11). */
  readonly config?: Partial<MessagingConfig>;
  /** Registry to use (to test verbs one side lacks). */
  readonly verbs?: VerbRegistry;
}

/** A started messaging service that answers ECHO_REQ, plus the errors it reported. */
export interface TestNode {
  readonly service: MessagingService;
  readonly address: InetAddressAndPort;
  readonly verbs: VerbRegistry;
  readonly errors: unknown[];
}

/** Starts a node on loopback that answers ECHO_REQ. */
export async function startNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const clock = new SystemClock();
  const verbs = options.verbs ?? createVerbRegistry();
  const errors: unknown[] = [];
  const service = new MessagingService({
    localAddress: { host: options.host ?? "127.0.0.1", port: options.port ?? 0 },
    transport: new TcpTransport({ clock }),
    clock,
    verbs,
    config: options.config ?? {},
    onError: (error) => errors.push(error),
  });
  await service.start();
  service.registerHandler(ECHO_REQ, (request, from) => service.respond(request, from, undefined));
  return { service, address: service.localAddress, verbs, errors };
}

/** Closes every node (for `finally` blocks). */
export async function closeAll(...nodes: Array<TestNode | undefined>): Promise<void> {
  await Promise.all(nodes.map((node) => node?.service.close()));
}

/** Resolves once `predicate` holds, polling every 5 ms for at most `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const clock = new SystemClock();
  const deadline = clock.nowMs() + timeoutMs;
  while (!predicate()) {
    if (clock.nowMs() > deadline) throw new Error(`timed out waiting for ${what}`);
    await clock.sleep(5);
  }
}

/** Sends an ECHO_REQ and resolves with the round-trip time in ms. */
export async function echo(from: TestNode, to: TestNode): Promise<number> {
  const clock = new SystemClock();
  const start = clock.monotonicNs();
  await from.service.sendWithCallback(from.service.createMessage(ECHO_REQ, undefined), to.address);
  return (clock.monotonicNs() - start) / 1e6;
}

/** Two started nodes (127.0.0.1 → 127.0.0.2) that both know one custom verb. */
export interface NodePair<T> {
  readonly a: TestNode;
  readonly b: TestNode;
  /** The verb as registered at A (to send). */
  readonly verbA: Verb<T>;
  /** The verb as registered at B (to handle). */
  readonly verbB: Verb<T>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts two nodes sharing the custom verb `name`; `options` apply per side. */
export async function startPair<T>(
  name: string,
  serializer: PayloadSerializer<T>,
  options: { a?: TestNodeOptions; b?: TestNodeOptions; timeoutMs?: number } = {},
): Promise<NodePair<T>> {
  const verbsA = createVerbRegistry();
  const verbsB = createVerbRegistry();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const verbA = verbsA.registerCustom(name, 1, timeoutMs, serializer);
  const verbB = verbsB.registerCustom(name, 1, timeoutMs, serializer);
  const a = await startNode({ host: "127.0.0.1", ...options.a, verbs: verbsA });
  let b: TestNode;
  try {
    b = await startNode({ host: "127.0.0.2", ...options.b, verbs: verbsB });
  } catch (error) {
    await closeAll(a);
    throw error;
  }
  return {
    a,
    b,
    verbA,
    verbB,
    [Symbol.asyncDispose]: () => closeAll(a, b),
  };
}
