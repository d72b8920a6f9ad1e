import assert from "node:assert/strict";
import fc from "fast-check";
import { Random, randomSeed, SEED_MAX } from "./random.ts";

function draws(random: Random, n: number): number[] {
  return Array.from({ length: n }, () => random.nextUint32());
}

/** Pearson's chi-square statistic of observed counts against equal expected counts. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((sum, count) => sum + count, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

function increment(counts: number[], index: number): void {
  counts[index] = (counts[index] ?? 0) + 1;
}

const seedArbitrary = fc.integer({ min: 0, max: SEED_MAX });

Deno.test("Random gives the same sequence for the same seed", () => {
  fc.assert(
    fc.property(seedArbitrary, (seed) => {
      const a = new Random(seed);
      const b = new Random(seed);
      assert.equal(a.seed, seed);
      assert.deepEqual(draws(a, 20), draws(b, 20));
      assert.equal(a.nextFloat(), b.nextFloat());
      assert.equal(a.nextInt(1_000), b.nextInt(1_000));
    }),
  );
});

Deno.test("Random matches xoshiro128** reference output (golden vector)", () => {
  // From the C reference implementation of xoshiro128**, state seeded as in random.ts.
  assert.deepEqual(draws(new Random(123456789012345), 5), [
    1869903396,
    3979132694,
    209067692,
    747991057,
    2310506973,
  ]);
});

Deno.test("Random gives different sequences for different seeds", () => {
  const seeds = [0, 1, 2, 3, 2 ** 32, 2 ** 32 + 1, SEED_MAX, SEED_MAX - 1];
  for (let i = 0; i < 1_000; i++) seeds.push(i * 7_919 + 10);
  const firsts = new Set(seeds.map((seed) => draws(new Random(seed), 4).join()));
  assert.equal(firsts.size, seeds.length);
});

Deno.test("Random() throws RangeError on a seed outside [0, 2^53)", () => {
  for (const seed of [-1, 0.5, 2 ** 53, Number.NaN]) {
    assert.throws(() => new Random(seed), RangeError);
  }
});

Deno.test("nextUint32() returns integers in [0, 2^32)", () => {
  const random = new Random(1);
  for (const draw of draws(random, 10_000)) {
    assert.ok(Number.isInteger(draw) && draw >= 0 && draw < 2 ** 32);
  }
});

Deno.test("nextFloat() returns values in [0, 1) spread over the interval", () => {
  const random = new Random(2);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const value = random.nextFloat();
    assert.ok(value >= 0 && value < 1);
    increment(counts, Math.floor(value * 10));
  }
  // 27.88 is the 0.999 quantile of chi-square with 9 degrees of freedom; the seed is fixed.
  assert.ok(chiSquare(counts) < 27.88, `chi-square ${chiSquare(counts)}`);
});

Deno.test("nextInt() stays within [0, maxExclusive)", () => {
  fc.assert(
    fc.property(seedArbitrary, fc.integer({ min: 1, max: 2 ** 53 }), (seed, maxExclusive) => {
      const random = new Random(seed);
      for (let i = 0; i < 20; i++) {
        const value = random.nextInt(maxExclusive);
        assert.ok(Number.isInteger(value) && value >= 0 && value < maxExclusive);
      }
    }),
  );
  assert.equal(new Random(3).nextInt(1), 0);
});

Deno.test("nextInt() is roughly uniform over a small range", () => {
  const random = new Random(4);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) increment(counts, random.nextInt(10));
  assert.ok(chiSquare(counts) < 27.88, `chi-square ${chiSquare(counts)}`);
});

Deno.test("nextInt() has no modulo bias when maxExclusive does not divide 2^32", () => {
  // With `uint32 % max`, the first third of [0, 3 * 2^30) would be drawn twice as often.
  const random = new Random(5);
  const third = 2 ** 30;
  const counts = [0, 0, 0];
  for (let i = 0; i < 30_000; i++) increment(counts, Math.floor(random.nextInt(3 * third) / third));
  // 13.82 is the 0.999 quantile of chi-square with 2 degrees of freedom.
  assert.ok(chiSquare(counts) < 13.82, `chi-square ${chiSquare(counts)} for ${counts}`);
});

Deno.test("nextInt() is roughly uniform above 2^32", () => {
  const random = new Random(6);
  const third = 2 ** 50;
  const counts = [0, 0, 0];
  for (let i = 0; i < 30_000; i++) increment(counts, Math.floor(random.nextInt(3 * third) / third));
  assert.ok(chiSquare(counts) < 13.82, `chi-square ${chiSquare(counts)} for ${counts}`);
});

Deno.test("nextInt() throws RangeError on a bound outside [1, 2^53]", () => {
  const random = new Random(7);
  for (const maxExclusive of [0, -3, 1.5, 2 ** 53 + 2, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => random.nextInt(maxExclusive), RangeError);
  }
});

Deno.test("nextIntBetween() stays within [min, maxExclusive) and reaches both ends", () => {
  const random = new Random(8);
  const seen = new Set<number>();
  for (let i = 0; i < 1_000; i++) {
    const value = random.nextIntBetween(-3, 3);
    assert.ok(value >= -3 && value < 3);
    seen.add(value);
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2]);
  assert.throws(() => random.nextIntBetween(3, 3), RangeError);
  assert.throws(() => random.nextIntBetween(0, 0.5), RangeError);
});

Deno.test("chance() is never true at 0, always true at 1, and near p between", () => {
  const random = new Random(9);
  let hits = 0;
  for (let i = 0; i < 10_000; i++) {
    assert.equal(random.chance(0), false);
    assert.equal(random.chance(1), true);
    if (random.chance(0.3)) hits++;
  }
  // Standard deviation is ~46 hits; 5 of them is a wide margin for a fixed seed.
  assert.ok(Math.abs(hits - 3_000) < 230, `${hits} hits`);
});

Deno.test("chance() throws RangeError on p outside [0, 1]", () => {
  const random = new Random(10);
  for (const p of [-0.1, 1.1, Number.NaN]) assert.throws(() => random.chance(p), RangeError);
});

Deno.test("pick() returns every element of the items eventually", () => {
  const random = new Random(11);
  const items = ["a", "b", "c", "d"] as const;
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add(random.pick(items));
  assert.deepEqual([...seen].sort(), ["a", "b", "c", "d"]);
});

Deno.test("pick() throws RangeError on empty items", () => {
  assert.throws(() => new Random(12).pick([]), { name: "RangeError", message: /Cannot pick/ });
});

Deno.test("shuffle() permutes the items in place", () => {
  fc.assert(
    fc.property(seedArbitrary, fc.array(fc.integer()), (seed, items) => {
      const shuffled = [...items];
      const returned = new Random(seed).shuffle(shuffled);
      assert.equal(returned, shuffled);
      assert.deepEqual(shuffled.toSorted((a, b) => a - b), items.toSorted((a, b) => a - b));
    }),
  );
});

Deno.test("shuffle() makes every permutation roughly equally likely", () => {
  const random = new Random(13);
  const counts = new Map<string, number>();
  for (let i = 0; i < 60_000; i++) {
    const key = random.shuffle(["a", "b", "c"]).join("");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  // 20.52 is the 0.999 quantile of chi-square with 5 degrees of freedom.
  const statistic = chiSquare([...counts.values()]);
  assert.ok(statistic < 20.52, `chi-square ${statistic}`);
});

Deno.test("fill() writes the same little-endian words that nextUint32() returns", () => {
  const bytes = new Random(14).fill(new Uint8Array(10));
  const words = draws(new Random(14), 3);
  const expected = new Uint8Array(12);
  new DataView(expected.buffer).setUint32(0, words[0] ?? 0, true);
  new DataView(expected.buffer).setUint32(4, words[1] ?? 0, true);
  new DataView(expected.buffer).setUint32(8, words[2] ?? 0, true);
  assert.deepEqual(bytes, expected.subarray(0, 10));
  assert.ok(bytes.some((byte) => byte !== 0));
});

Deno.test("fork() gives a deterministic child that replays from its own seed", () => {
  const child = new Random(15).fork();
  const sameChild = new Random(15).fork();
  assert.equal(child.seed, sameChild.seed);
  assert.deepEqual(draws(child, 10), draws(sameChild, 10));
  assert.deepEqual(draws(new Random(child.seed), 10), draws(new Random(sameChild.seed), 10));
});

Deno.test("fork() children are independent of their parent and of each other", () => {
  const parent = new Random(16);
  const first = parent.fork();
  const second = parent.fork();
  const parentDraws = draws(parent, 10);
  assert.notDeepEqual(draws(first, 10), parentDraws);
  assert.notDeepEqual(draws(second, 10), parentDraws);
  assert.notDeepEqual(draws(new Random(first.seed), 10), draws(new Random(second.seed), 10));

  // Drawing from a child never moves the parent.
  const untouched = new Random(16);
  const busyChild = untouched.fork();
  draws(busyChild, 1_000);
  untouched.fork();
  assert.deepEqual(draws(untouched, 10), parentDraws);
});

Deno.test("fromEntropy() seeds from the platform in [0, 2^53)", () => {
  const seeds = [randomSeed(), randomSeed(), Random.fromEntropy().seed];
  for (const seed of seeds) assert.ok(Number.isSafeInteger(seed) && seed >= 0);
  // Equal 53-bit draws would mean the entropy source is broken (odds 2^-53).
  assert.equal(new Set(seeds).size, 3);
});
