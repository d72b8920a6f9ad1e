/**
 * Where a node keeps its gossip generation (PROTOCOL.md §10): the start time in seconds, or the
 * stored value + 1 when that is larger, so a restart always gossips a higher generation even if
 * the wall clock stepped back. Cassandra keeps it in `system.local`; Ringwire in a small file
 * written atomically (temporary file, fsync, rename).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryGenerationStore } from "./generation_store.ts";
 * const store = new MemoryGenerationStore();
 * assert.equal(await store.next(1_700_000_000), 1_700_000_000);
 * assert.equal(await store.next(1_700_000_000), 1_700_000_001); // same second: still higher
 * assert.equal(await store.next(1_600_000_000), 1_700_000_002); // clock went back: still higher
 * ```
 *
 * @module
 */

/** Persists the generation across restarts. */
export interface GenerationStore {
  /** The generation for this start: `max(nowSeconds, stored + 1)`, durably stored first. */
  next(nowSeconds: number): Promise<number>;
}

/** The largest generation an int32 can carry. */
const GENERATION_MAX = 0x7fff_ffff;

function nextGeneration(stored: number | undefined, nowSeconds: number): number {
  const generation = stored === undefined ? nowSeconds : Math.max(nowSeconds, stored + 1);
  if (!Number.isSafeInteger(generation) || generation < 1 || generation > GENERATION_MAX) {
    throw new RangeError(`Cannot choose a gossip generation: ${generation} is out of range`);
  }
  return generation;
}

/** Keeps the generation in memory: for simulated nodes that "restart" within one process. */
export class MemoryGenerationStore implements GenerationStore {
  #stored: number | undefined;

  /** The stored generation, if any. */
  get stored(): number | undefined {
    return this.#stored;
  }

  /** See {@link GenerationStore.next}. */
  next(nowSeconds: number): Promise<number> {
    try {
      this.#stored = nextGeneration(this.#stored, nowSeconds);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(this.#stored);
  }
}

/** The stored generation in `path` is not a number: refuse to guess. */
export class CorruptGenerationFileError extends Error {
  override name = "CorruptGenerationFileError";
}

/** Keeps the generation in a file, replaced atomically and fsynced before use. */
export class FileGenerationStore implements GenerationStore {
  readonly #path: string;

  /** A store in `path` (its directory must exist). */
  constructor(path: string) {
    this.#path = path;
  }

  /**
   * See {@link GenerationStore.next}.
   * @throws {CorruptGenerationFileError} when the file holds something other than a generation
   */
  async next(nowSeconds: number): Promise<number> {
    let stored: number | undefined;
    try {
      const text = (await Deno.readTextFile(this.#path)).trim();
      if (!/^\d{1,10}$/.test(text)) {
        throw new CorruptGenerationFileError(
          `Cannot read the gossip generation: ${this.#path} holds ${
            JSON.stringify(text.slice(0, 40))
          }`,
        );
      }
      stored = Number(text);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const generation = nextGeneration(stored, nowSeconds);
    const temporary = `${this.#path}.tmp`;
    const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
    try {
      await file.write(new TextEncoder().encode(`${generation}\n`));
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, this.#path);
    await syncDirectoryOf(this.#path);
    return generation;
  }
}

/** Fsyncs the directory holding `path`, so a rename into it survives a power loss. */
async function syncDirectoryOf(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const directory = slash <= 0 ? (slash === 0 ? "/" : ".") : path.slice(0, slash);
  const handle = await Deno.open(directory, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
