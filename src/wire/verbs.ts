/**
 * The verb registry (PROTOCOL.md §8): every verb this node speaks, with its wire id, priority,
 * timeout, response verb and payload serializer. This file is the single source of truth for
 * verb ids.
 *
 * Ids partition the 2-byte vint range `0..16383`:
 * - `0..127`: the core verbs below, Cassandra's ids;
 * - `128..`: Ringwire's own verbs (streaming, row-level repair, operator-facing), counting up,
 *   added with {@link VerbRegistry.register};
 * - `15384..16383`: verbs of embedding applications, counting down from 16383, allocated by
 *   {@link VerbRegistry.registerCustom} (at most 1000).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createVerbRegistry, MUTATION_REQ } from "./verbs.ts";
 * import { rawBytesSerializer } from "./payload_serializers.ts";
 * const verbs = createVerbRegistry();
 * assert.equal(verbs.byId(0), MUTATION_REQ);
 * assert.equal(verbs.byName("MUTATION_RSP")?.id, MUTATION_REQ.responseVerbId);
 * const custom = verbs.registerCustom("APP_NOTIFY", 1, 5000, rawBytesSerializer);
 * assert.equal(custom.id, 16383);
 * ```
 *
 * @module
 */

import {
  type GossipDigestAck,
  type GossipDigestAck2,
  gossipDigestAck2Serializer,
  gossipDigestAckSerializer,
  type GossipDigestSyn,
  gossipDigestSynSerializer,
} from "./gossip_payloads.ts";
import {
  type HintMessage,
  hintMessageSerializer,
  type Mutation,
  mutationSerializer,
  type ReadCommand,
  readCommandSerializer,
  type ReadResponse,
  readResponseSerializer,
} from "./data_payloads.ts";
import type { PayloadSerializer } from "./payload_serializer.ts";
import {
  emptySerializer,
  failureReasonSerializer,
  pingSerializer,
  type RequestFailureReason,
} from "./payload_serializers.ts";
import {
  type SyncRequest,
  syncRequestSerializer,
  type SyncResponse,
  syncResponseSerializer,
  type ValidationRequest,
  validationRequestSerializer,
  type ValidationResponse,
  validationResponseSerializer,
} from "./repair_payloads.ts";
import { type SchemaSnapshot, schemaSnapshotSerializer } from "./schema_payloads.ts";
import type { Priority, Verb, VerbLookup } from "./verb.ts";

/** Largest verb id: the largest value of a 2-byte vint. */
export const MAX_VERB_ID = 16383;
/** First id of Ringwire's own (non-core) verbs; lower ids belong to the core verbs. */
export const FIRST_RINGWIRE_VERB_ID = 128;
/** Most custom verbs a registry allocates. */
export const MAX_CUSTOM_VERBS = 1000;
/** Lowest id a custom verb can get. */
export const MIN_CUSTOM_VERB_ID: number = MAX_VERB_ID - MAX_CUSTOM_VERBS + 1;

/** Cassandra's `writeTimeout`, ms. */
const WRITE_TIMEOUT_MS = 2000;
/** Cassandra's `readTimeout`, ms. */
const READ_TIMEOUT_MS = 5000;
/** Cassandra's `rpcTimeout` (`request_timeout_in_ms`), ms. */
const RPC_TIMEOUT_MS = 10_000;
/** Cassandra's `longTimeout`, ms. */
const LONG_TIMEOUT_MS = 300_000;

function verb<T>(
  name: string,
  id: number,
  priority: Priority,
  timeoutMs: number | undefined,
  responseVerbId: number | undefined,
  serializer: PayloadSerializer<T>,
  maxSizeBytes?: number,
): Verb<T> {
  return Object.freeze(
    maxSizeBytes === undefined
      ? { name, id, priority, timeoutMs, responseVerbId, serializer }
      : { name, id, priority, timeoutMs, responseVerbId, serializer, maxSizeBytes },
  );
}

/**
 * Largest gossip SYN / ACK / ACK2 accepted: the gossiper bounds its own (at most
 * `maxStateBytesPerMessage` of states and `maxDigestsPerSyn` digests), so anything bigger is
 * garbage or hostile, and is dropped before it costs a decode.
 */
export const GOSSIP_MESSAGE_SIZE_BYTES_MAX = 4 * 1024 * 1024;
/** Largest message of a verb with an empty payload (echo, shutdown): header and params. */
export const EMPTY_MESSAGE_SIZE_BYTES_MAX = 4096;

// WARNING: verb ids are part of the wire protocol and are APPEND-ONLY. Never renumber, rename,
// reuse or remove a verb: add new ones with new ids (and append them to the golden list in
// verbs_test.ts). Changing an id breaks every mixed-version cluster.

/** Writes one row. */
export const MUTATION_REQ: Verb<Mutation> = verb(
  "MUTATION_REQ",
  0,
  3,
  WRITE_TIMEOUT_MS,
  60,
  mutationSerializer,
);
/** Acknowledges a write. */
export const MUTATION_RSP: Verb<undefined> = verb(
  "MUTATION_RSP",
  60,
  1,
  WRITE_TIMEOUT_MS,
  undefined,
  emptySerializer,
);
/** Delivers a hint to the replica it was kept for. */
export const HINT_REQ: Verb<HintMessage> = verb(
  "HINT_REQ",
  1,
  4,
  WRITE_TIMEOUT_MS,
  61,
  hintMessageSerializer,
);
/** Acknowledges a hint. */
export const HINT_RSP: Verb<undefined> = verb(
  "HINT_RSP",
  61,
  1,
  WRITE_TIMEOUT_MS,
  undefined,
  emptySerializer,
);
/** Writes the reconciled row to a stale replica during a read. */
export const READ_REPAIR_REQ: Verb<Mutation> = verb(
  "READ_REPAIR_REQ",
  2,
  1,
  WRITE_TIMEOUT_MS,
  62,
  mutationSerializer,
);
/** Acknowledges a read repair. */
export const READ_REPAIR_RSP: Verb<undefined> = verb(
  "READ_REPAIR_RSP",
  62,
  1,
  WRITE_TIMEOUT_MS,
  undefined,
  emptySerializer,
);
/** Reads one row, or its digest. */
export const READ_REQ: Verb<ReadCommand> = verb(
  "READ_REQ",
  3,
  3,
  READ_TIMEOUT_MS,
  63,
  readCommandSerializer,
);
/** A row, "no such row", or a digest. */
export const READ_RSP: Verb<ReadResponse> = verb(
  "READ_RSP",
  63,
  2,
  READ_TIMEOUT_MS,
  undefined,
  readResponseSerializer,
);
/** Gossip round, step 1: digests. */
export const GOSSIP_DIGEST_SYN: Verb<GossipDigestSyn> = verb(
  "GOSSIP_DIGEST_SYN",
  14,
  0,
  LONG_TIMEOUT_MS,
  undefined,
  gossipDigestSynSerializer,
  GOSSIP_MESSAGE_SIZE_BYTES_MAX,
);
/** Gossip round, step 2: requests and states. */
export const GOSSIP_DIGEST_ACK: Verb<GossipDigestAck> = verb(
  "GOSSIP_DIGEST_ACK",
  15,
  0,
  LONG_TIMEOUT_MS,
  undefined,
  gossipDigestAckSerializer,
  GOSSIP_MESSAGE_SIZE_BYTES_MAX,
);
/** Gossip round, step 3: the requested states. */
export const GOSSIP_DIGEST_ACK2: Verb<GossipDigestAck2> = verb(
  "GOSSIP_DIGEST_ACK2",
  16,
  0,
  LONG_TIMEOUT_MS,
  undefined,
  gossipDigestAck2Serializer,
  GOSSIP_MESSAGE_SIZE_BYTES_MAX,
);
/** Pushes the sender's schema. */
export const SCHEMA_PUSH_REQ: Verb<SchemaSnapshot> = verb(
  "SCHEMA_PUSH_REQ",
  18,
  1,
  RPC_TIMEOUT_MS,
  98,
  schemaSnapshotSerializer,
);
/** Acknowledges a schema push. */
export const SCHEMA_PUSH_RSP: Verb<undefined> = verb(
  "SCHEMA_PUSH_RSP",
  98,
  1,
  RPC_TIMEOUT_MS,
  undefined,
  emptySerializer,
);
/** Asks for the receiver's schema. */
export const SCHEMA_PULL_REQ: Verb<undefined> = verb(
  "SCHEMA_PULL_REQ",
  28,
  1,
  RPC_TIMEOUT_MS,
  88,
  emptySerializer,
);
/** The receiver's schema. */
export const SCHEMA_PULL_RSP: Verb<SchemaSnapshot> = verb(
  "SCHEMA_PULL_RSP",
  88,
  1,
  RPC_TIMEOUT_MS,
  undefined,
  schemaSnapshotSerializer,
);
/** Announces that the sender is shutting down. */
export const GOSSIP_SHUTDOWN: Verb<undefined> = verb(
  "GOSSIP_SHUTDOWN",
  29,
  0,
  RPC_TIMEOUT_MS,
  undefined,
  emptySerializer,
  EMPTY_MESSAGE_SIZE_BYTES_MAX,
);
/** Liveness round trip before marking a node alive. */
export const ECHO_REQ: Verb<undefined> = verb(
  "ECHO_REQ",
  31,
  0,
  RPC_TIMEOUT_MS,
  91,
  emptySerializer,
  EMPTY_MESSAGE_SIZE_BYTES_MAX,
);
/** Answers an echo. */
export const ECHO_RSP: Verb<undefined> = verb(
  "ECHO_RSP",
  91,
  0,
  RPC_TIMEOUT_MS,
  undefined,
  emptySerializer,
  EMPTY_MESSAGE_SIZE_BYTES_MAX,
);
/** Checks that one link (by connection type id) to a peer works. */
export const PING_REQ: Verb<number> = verb(
  "PING_REQ",
  37,
  1,
  RPC_TIMEOUT_MS,
  97,
  pingSerializer,
);
/** Answers a ping. */
export const PING_RSP: Verb<undefined> = verb(
  "PING_RSP",
  97,
  1,
  RPC_TIMEOUT_MS,
  undefined,
  emptySerializer,
);
/** Tells a requester that handling its request failed, and why. Takes the request's expiry. */
export const FAILURE_RSP: Verb<RequestFailureReason> = verb(
  "FAILURE_RSP",
  99,
  0,
  undefined,
  undefined,
  failureReasonSerializer,
);
/** Acknowledges a repair message. */
export const REPAIR_RSP: Verb<undefined> = verb(
  "REPAIR_RSP",
  100,
  1,
  RPC_TIMEOUT_MS,
  undefined,
  emptySerializer,
);
/** Asks a replica for the Merkle trees of some ranges. */
export const VALIDATION_REQ: Verb<ValidationRequest> = verb(
  "VALIDATION_REQ",
  101,
  1,
  RPC_TIMEOUT_MS,
  100,
  validationRequestSerializer,
);
/** A replica's Merkle trees, sent to the repair coordinator as a request of its own. */
export const VALIDATION_RSP: Verb<ValidationResponse> = verb(
  "VALIDATION_RSP",
  102,
  1,
  RPC_TIMEOUT_MS,
  100,
  validationResponseSerializer,
);
/** Asks a replica to stream differing ranges with another. */
export const SYNC_REQ: Verb<SyncRequest> = verb(
  "SYNC_REQ",
  103,
  1,
  RPC_TIMEOUT_MS,
  100,
  syncRequestSerializer,
);
/** Reports a finished sync to the repair coordinator, as a request of its own. */
export const SYNC_RSP: Verb<SyncResponse> = verb(
  "SYNC_RSP",
  104,
  1,
  RPC_TIMEOUT_MS,
  100,
  syncResponseSerializer,
);

/** The core verbs by name (PROTOCOL.md §8). Append-only, like their ids. */
export const CORE_VERBS = {
  MUTATION_REQ,
  MUTATION_RSP,
  HINT_REQ,
  HINT_RSP,
  READ_REPAIR_REQ,
  READ_REPAIR_RSP,
  READ_REQ,
  READ_RSP,
  GOSSIP_DIGEST_SYN,
  GOSSIP_DIGEST_ACK,
  GOSSIP_DIGEST_ACK2,
  SCHEMA_PUSH_REQ,
  SCHEMA_PUSH_RSP,
  SCHEMA_PULL_REQ,
  SCHEMA_PULL_RSP,
  GOSSIP_SHUTDOWN,
  ECHO_REQ,
  ECHO_RSP,
  PING_REQ,
  PING_RSP,
  FAILURE_RSP,
  REPAIR_RSP,
  VALIDATION_REQ,
  VALIDATION_RSP,
  SYNC_REQ,
  SYNC_RSP,
} as const;
Object.freeze(CORE_VERBS);

const coreVerbById: ReadonlyMap<number, Verb> = new Map(
  Object.values(CORE_VERBS).map((v: Verb) => [v.id, v]),
);

/** All verbs one node speaks: lookup by id (the receive path) and by name. */
export class VerbRegistry implements VerbLookup {
  // Indexed by id: the receive path looks up every message's verb.
  readonly #byId: (Verb | undefined)[] = new Array(MAX_VERB_ID + 1);
  readonly #byName = new Map<string, Verb>();
  #customCount = 0;

  /** The verb with this wire id, if registered. */
  byId(id: number): Verb | undefined {
    return this.#byId[id];
  }

  /** The verb with this name, if registered. */
  byName(name: string): Verb | undefined {
    return this.#byName.get(name);
  }

  /** All registered verbs, by increasing id. */
  all(): Verb[] {
    return this.#byId.filter((v): v is Verb => v !== undefined);
  }

  /**
   * Adds a verb. Ids below 128 are only for the core verbs themselves; ids from
   * {@link MIN_CUSTOM_VERB_ID} up are only for {@link registerCustom}.
   * @throws {Error} on a duplicate id or name, or an id outside its range
   */
  register<T>(verb: Verb<T>): Verb<T> {
    const what = `Cannot register verb ${verb.name}`;
    if (!Number.isInteger(verb.id) || verb.id < 0 || verb.id > MAX_VERB_ID) {
      throw new Error(`${what}: id ${verb.id} is not in 0..${MAX_VERB_ID}`);
    }
    if (verb.id < FIRST_RINGWIRE_VERB_ID && coreVerbById.get(verb.id) !== verb) {
      throw new Error(`${what}: ids below ${FIRST_RINGWIRE_VERB_ID} are reserved for core verbs`);
    }
    if (verb.id >= MIN_CUSTOM_VERB_ID) {
      throw new Error(`${what}: ids from ${MIN_CUSTOM_VERB_ID} are allocated by registerCustom`);
    }
    this.#add(verb);
    return verb;
  }

  /**
   * Adds a verb for an embedding application, allocating its id downward from 16383.
   * @throws {Error} after {@link MAX_CUSTOM_VERBS} custom verbs, or on a duplicate name
   */
  registerCustom<T>(
    name: string,
    priority: Priority,
    timeoutMs: number | undefined,
    serializer: PayloadSerializer<T>,
    responseVerbId?: number,
  ): Verb<T> {
    if (this.#customCount >= MAX_CUSTOM_VERBS) {
      throw new Error(
        `Cannot register verb ${name}: all ${MAX_CUSTOM_VERBS} custom verb ids are taken`,
      );
    }
    const id = MAX_VERB_ID - this.#customCount;
    const custom = verb(name, id, priority, timeoutMs, responseVerbId, serializer);
    this.#add(custom);
    this.#customCount++;
    return custom;
  }

  #add(verb: Verb<unknown>): void {
    const what = `Cannot register verb ${verb.name}`;
    if (!/^[A-Z][A-Z0-9_]*$/.test(verb.name)) {
      throw new Error(`${what}: names are upper-case letters, digits and underscores`);
    }
    if (!Number.isInteger(verb.priority) || verb.priority < 0 || verb.priority > 4) {
      throw new Error(`${what}: priority ${verb.priority} is not in 0..4`);
    }
    if (
      verb.timeoutMs !== undefined && (!Number.isSafeInteger(verb.timeoutMs) || verb.timeoutMs <= 0)
    ) {
      throw new Error(`${what}: timeout ${verb.timeoutMs} ms is not a positive integer`);
    }
    if (
      verb.responseVerbId !== undefined &&
      (!Number.isInteger(verb.responseVerbId) || verb.responseVerbId < 0 ||
        verb.responseVerbId > MAX_VERB_ID)
    ) {
      throw new Error(`${what}: response verb id ${verb.responseVerbId} is invalid`);
    }
    const sameId = this.#byId[verb.id];
    if (sameId !== undefined) throw new Error(`${what}: id ${verb.id} is ${sameId.name}'s`);
    if (this.#byName.has(verb.name)) throw new Error(`${what}: the name is taken`);
    this.#byId[verb.id] = verb;
    this.#byName.set(verb.name, verb);
  }
}

/** A fresh registry holding all the core verbs. */
export function createVerbRegistry(): VerbRegistry {
  const registry = new VerbRegistry();
  for (const core of Object.values(CORE_VERBS)) registry.register<unknown>(core);
  return registry;
}
