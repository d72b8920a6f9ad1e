/**
 * The shadow round (Cassandra's `doShadowRound`): before it gossips, a starting node sends an
 * empty SYN to its seeds, resending every `resendMs`, until one answers with an ACK. The answer
 * shows a seed is reachable and carries the cluster's states as the seed knows them. A seed gives
 * up quietly after `timeoutMs` (it may be the first node of a new cluster); a non-seed fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "../clock.ts";
 * import { ShadowRound } from "./shadow_round.ts";
 * const clock = new ManualClock();
 * const sent: string[] = [];
 * const round = new ShadowRound({
 *   clock, seeds: [{ host: "10.0.0.1", port: 7000 }], resendMs: 5000, timeoutMs: 30_000,
 *   failOnTimeout: true, send: (seed) => sent.push(seed.host),
 * });
 * const done = round.run();
 * clock.advance(5000);
 * round.answered([]);
 * await done;
 * assert.deepEqual(sent, ["10.0.0.1", "10.0.0.1"]);
 * ```
 *
 * @module
 */

import { type Clock, setRepeatingTimer, type Timer } from "../clock.ts";
import type { EndpointStateEntry } from "../wire/gossip_payloads.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";

/** No seed answered the shadow round in time: this node cannot join. */
export class UnableToGossipError extends Error {
  override name = "UnableToGossipError";
}

/** Options of a {@link ShadowRound}. */
export interface ShadowRoundOptions {
  /** Injected time. */
  readonly clock: Clock;
  /** Seeds other than this node. */
  readonly seeds: readonly InetAddressAndPort[];
  /** Resend interval. */
  readonly resendMs: number;
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** Whether giving up is an error (non-seeds) or not (seeds). */
  readonly failOnTimeout: boolean;
  /** Sends the empty SYN to one seed. */
  readonly send: (seed: InetAddressAndPort) => void;
}

/** One shadow round. */
export class ShadowRound {
  /** The states of the first answer (empty until answered, or when the seed was starting too). */
  states: readonly EndpointStateEntry[] = [];
  readonly #options: ShadowRoundOptions;
  #finish: ((error?: Error) => void) | undefined;
  #resend: Timer | undefined;
  #deadline: Timer | undefined;

  constructor(options: ShadowRoundOptions) {
    this.#options = options;
  }

  /**
   * Runs until a seed answers, the round is cancelled, or the timeout passes.
   * @throws {UnableToGossipError} on timeout when `failOnTimeout`
   */
  run(): Promise<void> {
    const { clock, seeds, resendMs, timeoutMs, failOnTimeout, send } = this.#options;
    return new Promise<void>((resolve, reject) => {
      this.#finish = (error) => {
        this.#finish = undefined;
        this.#resend?.cancel();
        this.#deadline?.cancel();
        if (error === undefined) resolve();
        else reject(error);
      };
      const sendAll = () => {
        for (const seed of seeds) send(seed);
      };
      sendAll();
      this.#resend = setRepeatingTimer(clock, sendAll, resendMs);
      this.#deadline = clock.setTimer(() => {
        this.#finish?.(
          failOnTimeout
            ? new UnableToGossipError(
              `Cannot join: unable to gossip with any seed (${
                seeds.map(formatInetAddress).join(", ")
              }) within ${timeoutMs} ms`,
            )
            : undefined,
        );
      }, timeoutMs);
    });
  }

  /** A seed answered with `states`. */
  answered(states: readonly EndpointStateEntry[]): void {
    if (this.#finish === undefined) return;
    this.states = states;
    this.#finish();
  }

  /** Ends the round at once (the node is closing). */
  cancel(): void {
    this.#finish?.();
  }
}
