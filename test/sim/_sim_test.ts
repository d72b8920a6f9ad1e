/**
 * Seeded simulation tests: each test draws its seed from `SIM_SEED` (an integer, or `random`
 * for a fresh one) or, by default, from its name, so CI is repeatable. A failure prints the seed
 * and the command that replays it.
 *
 * @module
 */

import { randomSeed } from "../../src/random.ts";
import { ClusterSim, type ClusterSimOptions } from "./cluster_sim.ts";

/** The seed for test `name`. */
export function simSeed(name: string): number {
  const fromEnv = Deno.env.get("SIM_SEED");
  if (fromEnv === "random") return randomSeed();
  if (fromEnv !== undefined && fromEnv !== "") {
    const seed = Number(fromEnv);
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`Cannot run simulation: SIM_SEED must be an integer >= 0 or "random"`);
    }
    return seed;
  }
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return hash >>> 0;
}

/** A Deno test running `body` on a fresh simulated cluster; a failure names the seed. */
export function simTest(
  name: string,
  options: Omit<ClusterSimOptions, "seed">,
  body: (sim: ClusterSim) => Promise<void>,
): void {
  Deno.test(name, async () => {
    const seed = simSeed(name);
    const sim = new ClusterSim({ ...options, seed });
    try {
      await body(sim);
      if (sim.errors.length > 0) throw sim.errors[0];
    } catch (error) {
      console.error(
        `\nsimulation failed with seed ${seed}; replay: ` +
          `SIM_SEED=${seed} deno task sim --filter ${JSON.stringify(name)}\n`,
      );
      throw error;
    } finally {
      sim.close();
    }
  });
}
