/**
 * Which stage each core verb's handler runs on, and each stage's concurrency. Gossip, echo and
 * ping share the gossip stage so a flood of mutations can never delay failure detection.
 *
 * @module
 */

import type { StageName } from "./stage.ts";

/** Stage of each core verb by name; verbs not listed run on `misc`. */
const STAGE_OF_VERB: Readonly<Record<string, StageName>> = {
  MUTATION_REQ: "mutation",
  HINT_REQ: "mutation",
  READ_REPAIR_REQ: "mutation",
  READ_REQ: "read",
  GOSSIP_DIGEST_SYN: "gossip",
  GOSSIP_DIGEST_ACK: "gossip",
  GOSSIP_DIGEST_ACK2: "gossip",
  GOSSIP_SHUTDOWN: "gossip",
  ECHO_REQ: "gossip",
  PING_REQ: "gossip",
  SCHEMA_PUSH_REQ: "migration",
  SCHEMA_PULL_REQ: "migration",
  VALIDATION_REQ: "anti-entropy",
  VALIDATION_RSP: "anti-entropy",
  SYNC_REQ: "anti-entropy",
  SYNC_RSP: "anti-entropy",
};

/** The default stage of a verb. */
export function defaultStageOf(verbName: string): StageName {
  return STAGE_OF_VERB[verbName] ?? "misc";
}

/** How many asynchronous handlers each stage runs at once. Gossip is serial, as in Cassandra. */
export const STAGE_CONCURRENCY: Readonly<Record<StageName, number>> = {
  "immediate": 1024,
  "gossip": 1,
  "request-response": 1024,
  "mutation": 64,
  "read": 64,
  "migration": 1,
  "anti-entropy": 4,
  "misc": 16,
};
