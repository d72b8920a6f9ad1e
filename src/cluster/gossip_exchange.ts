/**
 * The pure half of a gossip exchange (PROTOCOL.md §10, Cassandra's `GossipDigestSynVerbHandler`
 * and `GossipDigestAckVerbHandler`): which digests a SYN carries, and, given digests from a
 * peer, which endpoint states to ask for and which to send. No I/O and no clock, so the rules
 * are tested on their own.
 *
 * Every list is bounded: a SYN carries at most `maxDigests` digests (shuffled, so every endpoint
 * takes its turn), and an ACK or ACK2 at most `maxStateBytes` of endpoint states; what does not
 * fit is sent in a later round.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { examineDigests } from "./gossip_exchange.ts";
 * import { EndpointStateRecord } from "./endpoint_state.ts";
 * const a = { host: "10.0.0.1", port: 7000 };
 * const known = new Map([["10.0.0.1:7000", { address: a, record: new EndpointStateRecord(10, 5) }]]);
 * // The peer has a newer generation of a: ask for all of it.
 * const newer = examineDigests([{ address: a, generation: 11, maxVersion: 1 }], known, 1 << 20, 12);
 * assert.deepEqual(newer.requests, [{ address: a, generation: 11, maxVersion: 0 }]);
 * // The peer is behind: send what it lacks.
 * const behind = examineDigests([{ address: a, generation: 10, maxVersion: 3 }], known, 1 << 20, 12);
 * assert.equal(behind.states[0]?.state.heartbeat.version, 5);
 * ```
 *
 * @module
 */

import type { Random } from "../random.ts";
import {
  type EndpointState,
  type EndpointStateEntry,
  endpointStateSerializer,
  type GossipDigest,
} from "../wire/gossip_payloads.ts";
import {
  formatInetAddress,
  type InetAddressAndPort,
  inetAddressSize,
} from "../wire/inet_address.ts";
import type { EndpointStateRecord } from "./endpoint_state.ts";

/** A known endpoint: its address and its state. */
export interface KnownEndpoint {
  /** The endpoint's internode address. */
  readonly address: InetAddressAndPort;
  /** What this node knows of it. */
  readonly record: EndpointStateRecord;
}

/** Counts what the byte bound held back (it is sent in a later round). */
export interface ExchangeStats {
  /** Endpoint states left out of a message for lack of room. */
  deferredStates: number;
}

/** What to answer to a peer's digests. */
export interface DigestExamination {
  /** Digests of the endpoints whose newer state we want (an ACK's digest list). */
  readonly requests: GossipDigest[];
  /** States the peer lacks (an ACK's states), within the byte bound. */
  readonly states: EndpointStateEntry[];
}

/** The digests of a SYN: ours first, then the others shuffled, at most `maxDigests`. */
export function buildDigests(
  known: ReadonlyMap<string, KnownEndpoint>,
  localKey: string,
  random: Random,
  maxDigests: number,
): GossipDigest[] {
  const local = known.get(localKey);
  const others: KnownEndpoint[] = [];
  for (const [key, endpoint] of known) if (key !== localKey) others.push(endpoint);
  random.shuffle(others);
  const digests: GossipDigest[] = [];
  if (local !== undefined) digests.push(digestOf(local));
  for (const endpoint of others) {
    if (digests.length >= maxDigests) break;
    digests.push(digestOf(endpoint));
  }
  return digests;
}

function digestOf(endpoint: KnownEndpoint): GossipDigest {
  return {
    address: endpoint.address,
    generation: endpoint.record.generation,
    maxVersion: endpoint.record.maxVersion,
  };
}

/**
 * Cassandra's `examineGossiper`: for each digest, ask for what the peer has newer, and collect
 * what it lacks, comparing generation first and then the max version.
 */
export function examineDigests(
  digests: readonly GossipDigest[],
  known: ReadonlyMap<string, KnownEndpoint>,
  maxStateBytes: number,
  version: number,
  stats?: ExchangeStats,
): DigestExamination {
  const requests: GossipDigest[] = [];
  const budget = new StateBudget(maxStateBytes, version, stats);
  for (const digest of digests) {
    const local = known.get(formatInetAddress(digest.address));
    if (local === undefined) {
      requests.push({ address: digest.address, generation: digest.generation, maxVersion: 0 });
      continue;
    }
    const record = local.record;
    if (digest.generation > record.generation) {
      requests.push({ address: digest.address, generation: digest.generation, maxVersion: 0 });
    } else if (digest.generation < record.generation) {
      budget.offer(local.address, record.newerThan(-1));
    } else if (digest.maxVersion > record.maxVersion) {
      requests.push({
        address: digest.address,
        generation: digest.generation,
        maxVersion: record.maxVersion,
      });
    } else if (digest.maxVersion < record.maxVersion) {
      budget.offer(local.address, record.newerThan(digest.maxVersion));
    }
  }
  return { requests, states: budget.entries };
}

/**
 * The states an ACK asked for (an ACK2's contents): for each digest, what we have above its
 * max version. A digest with a generation other than ours gets everything we have.
 */
export function statesForDigests(
  digests: readonly GossipDigest[],
  known: ReadonlyMap<string, KnownEndpoint>,
  maxStateBytes: number,
  version: number,
  stats?: ExchangeStats,
): EndpointStateEntry[] {
  const budget = new StateBudget(maxStateBytes, version, stats);
  for (const digest of digests) {
    const local = known.get(formatInetAddress(digest.address));
    if (local === undefined) continue;
    const above = digest.generation === local.record.generation ? digest.maxVersion : -1;
    budget.offer(local.address, local.record.newerThan(above));
  }
  return budget.entries;
}

/** Every known state, within the byte bound: a shadow round's answer. */
export function allStates(
  known: ReadonlyMap<string, KnownEndpoint>,
  maxStateBytes: number,
  version: number,
  stats?: ExchangeStats,
): EndpointStateEntry[] {
  const budget = new StateBudget(maxStateBytes, version, stats);
  for (const endpoint of known.values()) {
    budget.offer(endpoint.address, endpoint.record.newerThan(-1));
  }
  return budget.entries;
}

/** Collects entries until the byte bound; later offers that do not fit are skipped. */
class StateBudget {
  readonly entries: EndpointStateEntry[] = [];
  #remainingBytes: number;
  readonly #version: number;
  readonly #stats: ExchangeStats | undefined;

  constructor(maxBytes: number, version: number, stats: ExchangeStats | undefined) {
    this.#remainingBytes = maxBytes - 4;
    this.#version = version;
    this.#stats = stats;
  }

  offer(address: InetAddressAndPort, state: EndpointState | undefined): void {
    if (state === undefined) return;
    const size = inetAddressSize(address, this.#version) +
      endpointStateSerializer.serializedSize(state, this.#version);
    if (size > this.#remainingBytes) {
      if (this.#stats !== undefined) this.#stats.deferredStates++;
      return;
    }
    this.#remainingBytes -= size;
    this.entries.push({ address, state });
  }
}
