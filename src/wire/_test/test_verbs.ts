/** A small verb table for codec tests, independent of the real registry. */

import type { PayloadSerializer } from "../payload_serializer.ts";
import type { Verb, VerbLookup } from "../verb.ts";

/** The whole payload as bytes. */
export const bytesSerializer: PayloadSerializer<Uint8Array> = {
  serializedSize: (value) => value.length,
  write: (value, out) => out.writeBytes(value),
  read: (input) => input.readBytes(input.remaining),
};

/** No payload. */
export const noPayload: PayloadSerializer<undefined> = {
  serializedSize: () => 0,
  write: () => {},
  read: () => undefined,
};

/** ECHO_REQ as in PROTOCOL.md §8. */
export const ECHO: Verb<undefined> = {
  name: "ECHO_REQ",
  id: 31,
  priority: 0,
  timeoutMs: 10_000,
  responseVerbId: 91,
  serializer: noPayload,
};

/** A bytes verb with MUTATION_REQ's id and timeout. */
export const BLOB: Verb<Uint8Array> = {
  name: "MUTATION_REQ",
  id: 0,
  priority: 3,
  timeoutMs: 2000,
  responseVerbId: 60,
  serializer: bytesSerializer,
};

/** A bytes verb with a two-byte vint id (a custom verb). */
export const CUSTOM: Verb<Uint8Array> = {
  name: "CUSTOM",
  id: 16383,
  priority: 1,
  timeoutMs: 7000,
  responseVerbId: undefined,
  serializer: bytesSerializer,
};

/** Lookup over the three test verbs. */
export const testVerbs: VerbLookup = {
  byId: (id) => [ECHO, BLOB, CUSTOM].find((v) => v.id === id) as Verb | undefined,
};
