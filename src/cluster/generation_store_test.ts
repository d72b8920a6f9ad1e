import { equal, rejects } from "node:assert/strict";
import {
  CorruptGenerationFileError,
  FileGenerationStore,
  MemoryGenerationStore,
} from "./generation_store.ts";

const NOW_S = 1_700_000_000;

/** Runs `body` with a fresh temporary directory, removed afterwards. */
async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "generation_store_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("MemoryGenerationStore.next() returns now on first start", async () => {
  const store = new MemoryGenerationStore();
  equal(store.stored, undefined);
  equal(await store.next(NOW_S), NOW_S);
  equal(store.stored, NOW_S);
});

Deno.test("MemoryGenerationStore.next() returns stored + 1 when restarted in the same second", async () => {
  const store = new MemoryGenerationStore();
  await store.next(NOW_S);
  equal(await store.next(NOW_S), NOW_S + 1);
  equal(await store.next(NOW_S), NOW_S + 2);
  equal(store.stored, NOW_S + 2);
});

Deno.test("MemoryGenerationStore.next() stays increasing when the clock steps back", async () => {
  const store = new MemoryGenerationStore();
  await store.next(NOW_S);
  equal(await store.next(NOW_S - 3600), NOW_S + 1);
  equal(await store.next(NOW_S + 100), NOW_S + 100, "a later clock wins again");
});

Deno.test("MemoryGenerationStore.next() fails with RangeError when out of int32 range", async () => {
  // `async () => await`: MemoryGenerationStore.next() currently throws synchronously instead of
  // rejecting (see the report); this form accepts both.
  const next = (store: MemoryGenerationStore, nowSeconds: number) => async () =>
    await store.next(nowSeconds);
  await rejects(next(new MemoryGenerationStore(), 0), RangeError);
  await rejects(next(new MemoryGenerationStore(), -5), RangeError);
  await rejects(next(new MemoryGenerationStore(), 2 ** 31), RangeError);
  await rejects(next(new MemoryGenerationStore(), NOW_S + 0.5), RangeError);
  const full = new MemoryGenerationStore();
  equal(await full.next(2 ** 31 - 1), 2 ** 31 - 1);
  await rejects(next(full, NOW_S), RangeError, "stored + 1 would overflow an int32");
  equal(full.stored, 2 ** 31 - 1, "a failed next() keeps the stored value");
});

Deno.test("FileGenerationStore.next() returns now on first start and writes it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/generation`;
    equal(await new FileGenerationStore(path).next(NOW_S), NOW_S);
    equal(await Deno.readTextFile(path), `${NOW_S}\n`);
  });
});

Deno.test("FileGenerationStore.next() returns stored + 1 when restarted in the same second", async () => {
  await withTempDir(async (dir) => {
    const store = new FileGenerationStore(`${dir}/generation`);
    equal(await store.next(NOW_S), NOW_S);
    equal(await store.next(NOW_S), NOW_S + 1);
    equal(await store.next(NOW_S), NOW_S + 2);
  });
});

Deno.test("FileGenerationStore.next() stays increasing when the clock steps back", async () => {
  await withTempDir(async (dir) => {
    const store = new FileGenerationStore(`${dir}/generation`);
    await store.next(NOW_S);
    equal(await store.next(NOW_S - 86_400), NOW_S + 1);
    equal(await store.next(NOW_S - 1), NOW_S + 2);
    equal(await store.next(NOW_S + 500), NOW_S + 500);
  });
});

Deno.test("FileGenerationStore.next() continues from the file when the store is new", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/generation`;
    await new FileGenerationStore(path).next(NOW_S);
    // A restarted process: a new store instance on the same path.
    equal(await new FileGenerationStore(path).next(NOW_S), NOW_S + 1);
    equal(await new FileGenerationStore(path).next(NOW_S - 10), NOW_S + 2);
    equal(await Deno.readTextFile(path), `${NOW_S + 2}\n`);
  });
});

Deno.test("FileGenerationStore.next() accepts a stored value with surrounding whitespace", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/generation`;
    await Deno.writeTextFile(path, `  ${NOW_S}\r\n\n`);
    equal(await new FileGenerationStore(path).next(NOW_S), NOW_S + 1);
  });
});

Deno.test("FileGenerationStore.next() throws CorruptGenerationFileError when the file is corrupt", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/generation`;
    for (const content of ["", "\n", "garbage", "-5", "1.5", "17000000000000", "0x10", "12 34"]) {
      await Deno.writeTextFile(path, content);
      await rejects(
        new FileGenerationStore(path).next(NOW_S),
        CorruptGenerationFileError,
        JSON.stringify(content),
      );
      equal(await Deno.readTextFile(path), content, "the corrupt file is left untouched");
      equal((await listNames(dir)).join(), "generation", "and no temporary file is written");
    }
  });
});

Deno.test("CorruptGenerationFileError names the file and what it holds", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/generation`;
    await Deno.writeTextFile(path, "not a number");
    await rejects(new FileGenerationStore(path).next(NOW_S), (error: unknown) => {
      equal(error instanceof CorruptGenerationFileError, true);
      const message = (error as Error).message;
      equal(message.startsWith("Cannot read the gossip generation: "), true, message);
      equal(message.includes(path), true, message);
      equal(message.includes('"not a number"'), true, message);
      equal((error as Error).name, "CorruptGenerationFileError");
      return true;
    });
  });
});

Deno.test("FileGenerationStore.next() leaves no .tmp file behind", async () => {
  await withTempDir(async (dir) => {
    const store = new FileGenerationStore(`${dir}/generation`);
    await store.next(NOW_S);
    await store.next(NOW_S);
    equal((await listNames(dir)).join(), "generation");
  });
});

Deno.test("FileGenerationStore.next() rejects with NotFound when the directory is missing", async () => {
  await withTempDir(async (dir) => {
    await rejects(
      new FileGenerationStore(`${dir}/missing/generation`).next(NOW_S),
      Deno.errors.NotFound,
    );
  });
});

Deno.test("FileGenerationStore.next() keeps the file when the generation is out of range", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/generation`;
    await Deno.writeTextFile(path, `${2 ** 31 - 1}\n`);
    await rejects(new FileGenerationStore(path).next(NOW_S), RangeError);
    equal(await Deno.readTextFile(path), `${2 ** 31 - 1}\n`);
    equal((await listNames(dir)).join(), "generation");
  });
});
