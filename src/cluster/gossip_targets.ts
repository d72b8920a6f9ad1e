/**
 * Who hears this round's SYN (PROTOCOL.md §10, Cassandra's `GossipTask`): one random live peer;
 * with probability `unreachable / (live + 1)` also one unreachable peer; and a seed under
 * Cassandra's rule (`maybeGossipToSeed`): when the live peer was not a seed or fewer peers are
 * live than there are seeds, a random seed if no one is live, else a random seed with
 * probability `seeds / (live + unreachable)`. A node never picks itself as a seed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "../random.ts";
 * import { chooseGossipTargets } from "./gossip_targets.ts";
 * const seed = { host: "10.0.0.1", port: 7000 };
 * // Alone: only the seed can be asked.
 * const targets = chooseGossipTargets({
 *   live: [], unreachable: [], seeds: [seed], random: new Random(1),
 * });
 * assert.deepEqual(targets, [seed]);
 * ```
 *
 * @module
 */

import type { Random } from "../random.ts";
import { formatInetAddress, type InetAddressAndPort } from "../wire/inet_address.ts";

/** The inputs of one round's choice. */
export interface GossipTargetInputs {
  /** Peers considered alive. */
  readonly live: readonly InetAddressAndPort[];
  /** Peers considered down that have not left. */
  readonly unreachable: readonly InetAddressAndPort[];
  /** The seeds other than this node (Cassandra's seed list never holds the node itself). */
  readonly seeds: readonly InetAddressAndPort[];
  /** Injected randomness. */
  readonly random: Random;
}

/** The peers to send this round's SYN to (possibly none; possibly one peer twice). */
export function chooseGossipTargets(inputs: GossipTargetInputs): InetAddressAndPort[] {
  const { live, unreachable, seeds, random } = inputs;
  const seedKeys = new Set(seeds.map(formatInetAddress));
  const targets: InetAddressAndPort[] = [];
  let gossipedToSeed = false;
  if (live.length > 0) {
    const peer = random.pick(live);
    targets.push(peer);
    gossipedToSeed = seedKeys.has(formatInetAddress(peer));
  }
  if (unreachable.length > 0 && random.nextFloat() < unreachable.length / (live.length + 1)) {
    targets.push(random.pick(unreachable));
  }
  if ((!gossipedToSeed || live.length < seedKeys.size) && seeds.length > 0) {
    if (live.length === 0) {
      targets.push(random.pick(seeds));
    } else if (random.nextFloat() <= seedKeys.size / (live.length + unreachable.length)) {
      targets.push(random.pick(seeds));
    }
  }
  return targets;
}
