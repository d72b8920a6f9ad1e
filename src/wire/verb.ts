/**
 * What a verb is (PROTOCOL.md §8): an append-only id, a priority that picks the link, a timeout
 * that sets every message's expiry, the verb that answers it, and its payload serializer.
 * The registry of all verbs lives in `verbs.ts`.
 *
 * @module
 */

import type { PayloadSerializer } from "./payload_serializer.ts";

/** Verb priority: P0 travels on the urgent link; P1 (small responses) to P4 (hints). */
export type Priority = 0 | 1 | 2 | 3 | 4;

/** One verb of the protocol. */
export interface Verb<T = unknown> {
  /** Upper-case name, as in PROTOCOL.md (`MUTATION_REQ`). */
  readonly name: string;
  /** Wire id: append-only, never reused. */
  readonly id: number;
  /** Link priority. */
  readonly priority: Priority;
  /**
   * Expiry given to messages of this verb, in ms. `undefined` for verbs that only ever answer a
   * request (`FAILURE_RSP`): they take the request's expiry.
   */
  readonly timeoutMs: number | undefined;
  /** Id of the verb that answers this one, if any. */
  readonly responseVerbId: number | undefined;
  /** Writes and reads this verb's payload at a messaging version. */
  readonly serializer: PayloadSerializer<T>;
  /**
   * Largest message of this verb sent or accepted, in bytes, checked before a payload is
   * decoded; `undefined`: only the link's maximum message size applies.
   */
  readonly maxSizeBytes?: number;
}

/** Finds verbs by wire id; `undefined` for ids this node does not know. */
export interface VerbLookup {
  /** The verb with this wire id, if known. */
  byId(id: number): Verb | undefined;
}
