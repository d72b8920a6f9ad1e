/**
 * Seeded, deterministic randomness (STYLE.md rule 4): the only source of random choices.
 *
 * {@linkcode Random} is xoshiro128** (32-bit words, period 2^128 - 1) with its state expanded from
 * a seed by a splitmix-style mixer. The same seed gives the same sequence on every platform and
 * every run, which is what lets a failing simulation be replayed from the seed it printed. It is
 * not cryptographic: never use it for secrets.
 *
 * Production code seeds from the platform's entropy ({@linkcode Random.fromEntropy}) and logs the
 * seed; tests and the simulator pass a fixed seed. Give each component its own stream with
 * {@linkcode Random.fork} so that adding a draw in one place does not shift every other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Random } from "./random.ts";
 *
 * const a = new Random(42);
 * const b = new Random(42);
 * assert.equal(a.nextUint32(), b.nextUint32()); // same seed, same sequence
 *
 * const die = a.nextIntBetween(1, 7);
 * assert.ok(die >= 1 && die <= 6);
 * assert.deepEqual(a.shuffle([1, 2, 3, 4]).toSorted(), [1, 2, 3, 4]);
 *
 * const gossip = a.fork(); // an independent stream, reproducible from its own seed
 * assert.equal(new Random(gossip.seed).nextFloat(), gossip.nextFloat());
 * ```
 *
 * @module
 */

/** Largest seed: seeds are integers in [0, 2^53 - 1], so they print and parse exactly. */
export const SEED_MAX = Number.MAX_SAFE_INTEGER;

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

/** A seed in [0, 2^53 - 1] drawn from `crypto.getRandomValues`, for production use. */
export function randomSeed(): number {
  const words = crypto.getRandomValues(new Uint32Array(2));
  return ((words[0] ?? 0) >>> 11) * TWO_POW_32 + (words[1] ?? 0);
}

// Murmur3's 32-bit finalizer: a bijection on uint32 with full avalanche.
function fmix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Deterministic pseudo-random generator; equal seeds give equal sequences. */
export class Random {
  /** The seed this stream started from; `new Random(seed)` replays it. */
  readonly seed: number;
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /** Creates a stream from an integer seed in [0, {@linkcode SEED_MAX}]. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(
        `Cannot create Random: seed must be an integer in [0, 2^53), got ${seed}`,
      );
    }
    this.seed = seed;
    // Walk a Weyl sequence from the low word, keyed by the high word. fmix32 is a bijection and
    // its four inputs differ, so the state words differ too and are never all zero.
    const key = fmix32(Math.floor(seed / TWO_POW_32) ^ 0x6a09e667);
    let weyl = seed >>> 0;
    const next = () => {
      weyl = (weyl + 0x9e3779b9) >>> 0;
      return fmix32(weyl ^ key);
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
  }

  /** A stream seeded from the platform's entropy; log its `seed` to make a run replayable. */
  static fromEntropy(): Random {
    return new Random(randomSeed());
  }

  /** A uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#s1, 5), 7), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= this.#s1;
    this.#s1 ^= this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    return this.#nextUint53() / TWO_POW_53;
  }

  /** A uniform integer in [0, maxExclusive), unbiased; `maxExclusive` in [1, 2^53]. */
  nextInt(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > TWO_POW_53) {
      throw new RangeError(
        `Cannot draw integer: maxExclusive must be an integer in [1, 2^53], got ${maxExclusive}`,
      );
    }
    // Rejection sampling: drop draws from the incomplete last block so every residue is equally
    // likely. At most half the range is rejected, so the expected number of draws is below 2.
    if (maxExclusive <= TWO_POW_32) {
      const limit = TWO_POW_32 - (TWO_POW_32 % maxExclusive);
      for (;;) {
        const draw = this.nextUint32();
        if (draw < limit) return draw % maxExclusive;
      }
    }
    const limit = TWO_POW_53 - (TWO_POW_53 % maxExclusive);
    for (;;) {
      const draw = this.#nextUint53();
      if (draw < limit) return draw % maxExclusive;
    }
  }

  /** A uniform integer in [min, maxExclusive); both safe integers, `maxExclusive > min`. */
  nextIntBetween(min: number, maxExclusive: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(maxExclusive) || maxExclusive <= min) {
      throw new RangeError(
        `Cannot draw integer: need integers min < maxExclusive, got [${min}, ${maxExclusive})`,
      );
    }
    return min + this.nextInt(maxExclusive - min);
  }

  /** True with probability `p` in [0, 1]: `chance(0)` is never true, `chance(1)` always. */
  chance(p: number): boolean {
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(`Cannot draw chance: p must be in [0, 1], got ${p}`);
    }
    return this.nextFloat() < p;
  }

  /** A uniformly chosen element of `items`; throws RangeError when `items` is empty. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick: items is empty");
    return items[this.nextInt(items.length)] as T;
  }

  /** Shuffles `items` in place (Fisher–Yates, every permutation equally likely); returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const item = items[i] as T;
      items[i] = items[j] as T;
      items[j] = item;
    }
    return items;
  }

  /** Fills `bytes` with random bytes; returns it. */
  fill(bytes: Uint8Array): Uint8Array {
    let word = 0;
    for (let i = 0; i < bytes.length; i++) {
      if ((i & 3) === 0) word = this.nextUint32();
      bytes[i] = word & 0xff;
      word >>>= 8;
    }
    return bytes;
  }

  /** A child stream seeded from this one: deterministic, independent, with its own `seed`. */
  fork(): Random {
    return new Random(this.#nextUint53());
  }

  #nextUint53(): number {
    return (this.nextUint32() >>> 11) * TWO_POW_32 + this.nextUint32();
  }
}
