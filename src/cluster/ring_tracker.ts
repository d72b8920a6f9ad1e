/**
 * The ring as gossip describes it (Cassandra's `StorageService.onChange` feeding `TokenMetadata`):
 * each endpoint's `STATUS_WITH_PORT` says what it is (`BOOT` joining, `NORMAL`, `LEAVING`, gone
 * after `LEFT`/`removed`), its `TOKENS` state which tokens it holds, and `DC`/`RACK` where it sits.
 * Gossip events only say *which* endpoint to look at again; the tracker then reads that
 * endpoint's current states (level-based, so the outcome does not depend on event order).
 *
 * Being DOWN never removes a node, and neither does `shutdown`: a node that stops keeps its place
 * and its last tokens until it comes back or leaves. Bad input from a peer never throws: an
 * invalid `TOKENS` value is counted and ignored (the last valid one stays), and a token claimed
 * by two nodes goes to one of them by a rule every node applies alike (see {@linkcode RingTracker}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStatus } from "./gossip_status.ts";
 * import { RingTracker } from "./ring_tracker.ts";
 *
 * const endpoint = (host: string, status: string, tokens: string) => ({
 *   address: { host, port: 7000 }, key: `${host}:7000`, alive: true, generation: 1,
 *   status: parseStatus(status),
 *   states: new Map([[13, { value: tokens, version: 1 }], [17, { value: status, version: 2 }]]),
 * }); // 13: TOKENS, 17: STATUS_WITH_PORT
 * const views = [
 *   endpoint("10.0.0.1", "NORMAL,0", "0,200"),
 *   endpoint("10.0.0.2", "NORMAL,100", "100,300"),
 *   endpoint("10.0.0.3", "BOOT,50", "50"),
 * ];
 * const source = {
 *   localAddress: views[0]!.address,
 *   subscribe: () => () => {}, // a Gossiper's events say which endpoint to read again
 *   endpoint: () => undefined,
 *   endpoints: () => views,
 * };
 * using tracker = new RingTracker({ source, datacenter: "eu" });
 * assert.equal(tracker.ring().primaryOf(250n), "10.0.0.2:7000");
 * const pending = tracker.pendingRanges({ class: "SimpleStrategy", replicationFactor: 1 });
 * assert.deepEqual(pending.rangesOf("10.0.0.3:7000"), [{ left: 0n, right: 50n }]); // from .2
 * assert.equal(tracker.snitch.datacenterOf("10.0.0.1:7000"), "eu"); // local: from config
 * ```
 *
 * @module
 */

import { ApplicationState, type VersionedValue } from "../wire/gossip_payloads.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";
import type { GossipEvent, GossipListener } from "./gossip_events.ts";
import type { GossipStatus, GossipStatusKind } from "./gossip_status.ts";
import { PendingRanges } from "./pending_ranges.ts";
import {
  DEFAULT_DATACENTER,
  DEFAULT_RACK,
  type GossipedLocation,
  GossipingSnitch,
} from "./snitch.ts";
import { ownership, parseTokens } from "./token_allocation.ts";
import { type PlacementStrategy, type RingMember, TokenRing } from "./token_ring.ts";

/** Most placement strategies whose pending ranges are kept between changes. */
export const PENDING_RANGES_CACHE_MAX = 32;

/** One endpoint as the tracker reads it (a subset of the gossiper's `EndpointView`). */
export interface RingSourceEndpoint {
  /** Its internode address. */
  readonly address: InetAddressAndPort;
  /** `host:port`: its id on the ring. */
  readonly key: string;
  /** Whether this node considers it alive. */
  readonly alive: boolean;
  /** Its generation: the newer one wins a contested token. */
  readonly generation: number;
  /** Its parsed `STATUS_WITH_PORT`, if announced. */
  readonly status: GossipStatus | undefined;
  /** Its application states by ordinal. */
  readonly states: ReadonlyMap<number, VersionedValue>;
}

/** What the tracker needs of the gossiper; a `Gossiper` is one. */
export interface RingSource {
  /** This node's address. */
  readonly localAddress: InetAddressAndPort;
  /** Subscribes to membership events; returns the unsubscribe function. */
  subscribe(listener: GossipListener): () => void;
  /** The current state of `address`, or `undefined` once it is forgotten. */
  endpoint(address: InetAddressAndPort): RingSourceEndpoint | undefined;
  /** Every known endpoint. */
  endpoints(): readonly RingSourceEndpoint[];
}

/** Options of a {@linkcode RingTracker}. */
export interface RingTrackerOptions {
  /** The gossip to follow. */
  readonly source: RingSource;
  /** This node's datacenter from configuration; default `dc1`. */
  readonly datacenter?: string;
  /** This node's rack from configuration; default `rack1`. */
  readonly rack?: string;
  /** Receives errors thrown by `onChange` listeners; default `console.error`. */
  readonly onError?: (error: unknown) => void;
}

/** A node's part in the ring: on it, bootstrapping into it, or decommissioning out of it. */
export type RingMemberState = "normal" | "joining" | "leaving";

/** One member as {@linkcode RingTracker.members} reports it. */
export interface TrackedMember {
  /** `host:port`. */
  readonly key: string;
  /** Its part in the ring. */
  readonly state: RingMemberState;
  /** Its gossiped status kind (`shutdown` for a stopped member that keeps its place). */
  readonly status: GossipStatusKind | undefined;
  /** Whether this node considers it alive. */
  readonly alive: boolean;
  /** Tokens it holds (joining: will hold), contested ones it lost excluded. */
  readonly tokens: number;
  /** Its datacenter. */
  readonly dc: string;
  /** Its rack. */
  readonly rack: string;
  /** The fraction of the ring it owns as primary now, in [0, 1]; 0 while joining. */
  readonly ownership: number;
}

/** A change of the ring's membership or tokens. */
export interface RingChange {
  /** The endpoint that changed. */
  readonly key: string;
  /** Its part now; `removed` once it has none. */
  readonly state: RingMemberState | "removed";
}

/** Receives ring changes; a throw is reported, not propagated. */
export type RingChangeListener = (change: RingChange) => void;

/** What the tracker keeps of one endpoint. */
interface Tracked {
  generation: number;
  alive: boolean;
  status: GossipStatusKind | undefined;
  /** `left` is remembered so that a later `shutdown` of the same node does not revive it. */
  role: RingMemberState | "left" | undefined;
  /** The last valid tokens. */
  tokens: readonly bigint[];
  /** The last `TOKENS` value parsed, valid or not, so that each value is parsed once. */
  tokensValue: string | undefined;
  location: GossipedLocation;
}

/** What is derived from the tracked endpoints, rebuilt after a change. */
interface Derived {
  readonly ring: TokenRing;
  readonly members: readonly RingMember[];
  readonly joining: readonly RingMember[];
  readonly leaving: readonly string[];
  readonly ownership: ReadonlyMap<string, number>;
}

const { DC, RACK, STATUS_WITH_PORT, TOKENS } = ApplicationState;
const WATCHED_STATES: ReadonlySet<number> = new Set([STATUS_WITH_PORT, TOKENS, DC, RACK]);
/** The part each status gives; `shutdown` and statuses not understood are handled apart. */
const ROLES: Partial<Record<GossipStatusKind, Tracked["role"]>> = {
  BOOT: "joining",
  NORMAL: "normal",
  LEAVING: "leaving",
  LEFT: "left",
  removed: "left",
};

/**
 * Follows gossip and keeps the token ring, the pending ranges and the snitch.
 *
 * A token claimed by two nodes goes to a ring member (normal or leaving) before a joining node,
 * then to the higher generation (the node started last, as in Cassandra), then to the smaller
 * key; the loser keeps its other tokens and {@linkcode RingTracker.tokenConflicts} counts the claim.
 */
export class RingTracker {
  /** Where nodes are: `DC`/`RACK` gossip for peers, configuration for this node. */
  readonly snitch: GossipingSnitch;
  readonly #source: RingSource;
  readonly #onError: (error: unknown) => void;
  readonly #tracked = new Map<string, Tracked>();
  /** Who claims each token: the members with tokens ({@linkcode #claimsOf}). */
  readonly #claims = new Map<bigint, Set<string>>();
  readonly #listeners = new Set<RingChangeListener>();
  readonly #pending = new Map<string, PendingRanges>();
  readonly #unsubscribe: () => void;
  #derived: Derived | undefined;
  #tokenConflicts = 0;
  #invalidTokenStates = 0;
  #listenerErrors = 0;

  /** Subscribes to `options.source` and reads what it knows already. */
  constructor(options: RingTrackerOptions) {
    this.#source = options.source;
    this.#onError = options.onError ?? ((error) => console.error(error));
    this.snitch = new GossipingSnitch({
      datacenter: options.datacenter ?? DEFAULT_DATACENTER,
      rack: options.rack ?? DEFAULT_RACK,
      localNodeKey: formatInetAddress(options.source.localAddress),
      lookup: (key) => this.#tracked.get(key)?.location,
    });
    this.#unsubscribe = this.#source.subscribe((event) => this.#onEvent(event));
    this.resync();
  }

  /** Claims of a token already claimed by another node. */
  get tokenConflicts(): number {
    return this.#tokenConflicts;
  }

  /** `TOKENS` values that did not parse (ignored: the last valid tokens stay). */
  get invalidTokenStates(): number {
    return this.#invalidTokenStates;
  }

  /** Errors thrown by `onChange` listeners. */
  get listenerErrors(): number {
    return this.#listenerErrors;
  }

  /** Reads every endpoint the source knows again, and drops those it forgot. */
  resync(): void {
    const views = new Map(this.#source.endpoints().map((view) => [view.key, view]));
    for (const key of [...this.#tracked.keys()]) {
      if (!views.has(key)) this.#reconcile(key, undefined);
    }
    for (const [key, view] of views) this.#reconcile(key, view);
  }

  /** The ring of normal and leaving members (shutdown and down ones included); cached. */
  ring(): TokenRing {
    return this.#derive().ring;
  }

  /** The ring's members, by key: what `allocateTokens` takes as `existing`. */
  ringMembers(): readonly RingMember[] {
    return this.#derive().members;
  }

  /** The ranges joining and leaving nodes are about to take over under `strategy`; cached. */
  pendingRanges(strategy: PlacementStrategy): PendingRanges {
    const cacheKey = JSON.stringify(strategy);
    const cached = this.#pending.get(cacheKey);
    if (cached !== undefined) return cached;
    const { members: current, joining, leaving } = this.#derive();
    const pending = new PendingRanges({ current, joining, leaving, strategy });
    if (this.#pending.size >= PENDING_RANGES_CACHE_MAX) this.#pending.clear();
    this.#pending.set(cacheKey, pending);
    return pending;
  }

  /** Every normal, joining and leaving member, by key. */
  members(): TrackedMember[] {
    const derived = this.#derive();
    const held = new Map<string, number>();
    for (const member of [...derived.members, ...derived.joining]) {
      held.set(member.node, member.tokens.length);
    }
    const members: TrackedMember[] = [];
    for (const [key, tracked] of [...this.#tracked].sort(byKey)) {
      const state = partOf(tracked);
      if (state === undefined) continue;
      members.push({
        key,
        state,
        status: tracked.status,
        alive: tracked.alive,
        tokens: held.get(key) ?? 0,
        dc: this.snitch.datacenterOf(key),
        rack: this.snitch.rackOf(key),
        ownership: derived.ownership.get(key) ?? 0,
      });
    }
    return members;
  }

  /** Calls `listener` after each change of membership or tokens; returns the unsubscribe function. */
  onChange(listener: RingChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops following gossip. */
  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  /** Closes; for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #onEvent(event: GossipEvent): void {
    if (event.type === "alive" || event.type === "dead") {
      const tracked = this.#tracked.get(event.key);
      if (tracked !== undefined) tracked.alive = event.type === "alive";
      return;
    }
    if (event.type === "change" && !WATCHED_STATES.has(event.ordinal)) return;
    this.#reconcile(event.key, this.#source.endpoint(event.address));
  }

  /** Brings what is kept of `key` in line with its view; notifies when the ring changed. */
  #reconcile(key: string, view: RingSourceEndpoint | undefined): void {
    const before = this.#tracked.get(key);
    if (view === undefined) {
      if (before === undefined) return;
      this.#tracked.delete(key);
      this.#setClaims(key, claimsOf(before), []);
      if (claimsOf(before).length > 0) this.#changed(key, "removed");
      return;
    }
    const tracked: Tracked = before ?? {
      generation: 0,
      alive: false,
      status: undefined,
      role: undefined,
      tokens: [],
      tokensValue: undefined,
      location: {},
    };
    const old = { ...tracked, claims: claimsOf(tracked) };
    tracked.generation = view.generation;
    tracked.alive = view.alive;
    tracked.status = view.status?.kind;
    tracked.location = locationOf(view.states);
    tracked.role = roleOf(view.status, tracked.role);
    if (tracked.role === "left") {
      tracked.tokens = [];
      tracked.tokensValue = undefined;
    } else {
      this.#readTokens(tracked, view.states.get(TOKENS)?.value);
    }
    this.#tracked.set(key, tracked);
    const claims = claimsOf(tracked);
    if (old.claims.length === 0 && claims.length === 0) return;
    if (claims !== old.claims) this.#setClaims(key, old.claims, claims);
    const contested = claims.some((token) => this.#claims.get(token)!.size > 1);
    if (
      claims !== old.claims || tracked.role !== old.role ||
      tracked.location.dc !== old.location.dc || tracked.location.rack !== old.location.rack ||
      (contested && tracked.generation !== old.generation)
    ) {
      this.#changed(key, claims.length > 0 ? partOf(tracked) ?? "removed" : "removed");
    }
  }

  #readTokens(tracked: Tracked, value: string | undefined): void {
    if (value === undefined || value === tracked.tokensValue) return;
    tracked.tokensValue = value;
    try {
      tracked.tokens = parseTokens(value);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      // A peer's bad state must not break this node; the last valid tokens stay.
      this.#invalidTokenStates++;
    }
  }

  #setClaims(key: string, old: readonly bigint[], claims: readonly bigint[]): void {
    for (const token of old) {
      const claimants = this.#claims.get(token)!;
      claimants.delete(key);
      if (claimants.size === 0) this.#claims.delete(token);
    }
    const held = new Set(old);
    for (const token of claims) {
      const claimants = this.#claims.get(token);
      if (claimants === undefined) {
        this.#claims.set(token, new Set([key]));
        continue;
      }
      if (!held.has(token)) this.#tokenConflicts++;
      claimants.add(key);
    }
  }

  #changed(key: string, state: RingChange["state"]): void {
    this.#derived = undefined;
    this.#pending.clear();
    for (const listener of this.#listeners) {
      try {
        listener({ key, state });
      } catch (error) {
        this.#listenerErrors++;
        this.#onError(error);
      }
    }
  }

  #derive(): Derived {
    if (this.#derived !== undefined) return this.#derived;
    const members: RingMember[] = [];
    const joining: RingMember[] = [];
    const leaving: string[] = [];
    for (const [key, tracked] of [...this.#tracked].sort(byKey)) {
      const tokens = claimsOf(tracked).filter((token) => this.#wins(key, tracked, token));
      if (tokens.length === 0) continue;
      const dc = this.snitch.datacenterOf(key);
      const member = { node: key, tokens, dc, rack: this.snitch.rackOf(key) };
      if (tracked.role === "joining") joining.push(member);
      else members.push(member);
      if (tracked.role === "leaving") leaving.push(key);
    }
    this.#derived = {
      ring: new TokenRing(members),
      members,
      joining,
      leaving,
      ownership: ownership(members),
    };
    return this.#derived;
  }

  /** Whether `key` holds `token` against every other claimant. */
  #wins(key: string, tracked: Tracked, token: bigint): boolean {
    const claimants = this.#claims.get(token)!;
    if (claimants.size === 1) return true;
    for (const other of claimants) {
      if (other !== key && precedes(other, this.#tracked.get(other)!, key, tracked)) return false;
    }
    return true;
  }
}

/** Whether `a` takes a token both claim from `b`: ring member, newer generation, smaller key. */
function precedes(aKey: string, a: Tracked, bKey: string, b: Tracked): boolean {
  const aJoining = a.role === "joining";
  if (aJoining !== (b.role === "joining")) return !aJoining;
  if (a.generation !== b.generation) return a.generation > b.generation;
  return aKey < bKey;
}

/** The part of `tracked` in the ring, if any. */
function partOf(tracked: Tracked): RingMemberState | undefined {
  return tracked.role === "left" ? undefined : tracked.role;
}

/** The tokens `tracked` claims: those of a member with a part in the ring, else none. */
function claimsOf(tracked: Tracked): readonly bigint[] {
  return partOf(tracked) === undefined ? [] : tracked.tokens;
}

/**
 * A node's part after `status`. `shutdown` changes nothing (as in Cassandra): a member keeps its
 * part, and a node first seen shut down was a normal member before it stopped. A status this
 * node does not understand changes nothing either.
 */
function roleOf(status: GossipStatus | undefined, role: Tracked["role"]): Tracked["role"] {
  if (status?.kind === "shutdown") return role ?? "normal";
  return (status === undefined ? undefined : ROLES[status.kind]) ?? role;
}

function locationOf(states: ReadonlyMap<number, VersionedValue>): GossipedLocation {
  const dc = states.get(DC)?.value;
  const rack = states.get(RACK)?.value;
  return { ...(dc === undefined ? {} : { dc }), ...(rack === undefined ? {} : { rack }) };
}

function byKey(x: [string, unknown], y: [string, unknown]): number {
  return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0;
}
