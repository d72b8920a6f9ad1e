/**
 * Gossip benchmark (membership issue), in the deterministic simulator (`test/sim/cluster_sim.ts`):
 * N nodes of the real Gossiper and MessagingService over the in-memory network, one manual clock,
 * 1 ms one-way latency, 3 seeds.
 *
 * - Convergence: the nodes start one by one, then run until every node sees every other alive;
 *   simulated and wall seconds of both phases.
 * - Dissemination: after a steady period, one node sets `LOAD`; gossip rounds (1 round =
 *   `gossipIntervalMs`, checked every 100 ms simulated) until 99% and 100% of the nodes hold the
 *   new value. Several changes from different non-seed nodes, one after the other: median (max).
 * - Traffic in steady state: the `sent_bytes` and `sent_count` of every node's
 *   `internode_outbound` rows over a window, per node per simulated second (serialized message
 *   bytes, before framing), with the SYN/ACK/ACK2 split from the gossipers' counters, and the
 *   liveness-probe connects (ADR 0003) the transports made meanwhile.
 * - Simulation speed over the same window: simulated seconds per wall second.
 * - Memory: peak RSS of the process (every node holds links to every other: it grows as n²).
 *
 * Every cluster size runs in a fresh process (this script re-runs itself with `--case=<nodes>`).
 * A size whose memory, extrapolated from the two largest sizes measured (at most as n²), would not
 * fit in this machine's memory is not run, and the section says so. Run: `deno task bench` (all benchmarks)
 * or `deno run -A bench/gossip_bench.ts [--quick] [--nodes=100,300]`: 100, 200, 500 and 1000 nodes
 * by default, only 100 with shorter windows with `--quick`. Writes its section of
 * bench/RESULTS.md unless `--quick`.
 */

import { ApplicationState } from "../src/wire/gossip_payloads.ts";
import { ClusterSim, type SimNode } from "../test/sim/cluster_sim.ts";
import { spawnReady } from "../test/_child_process.ts";
import { cpuModel, shortCommit, writeResultsSection } from "./_results.ts";

const quick = Deno.args.includes("--quick");
const SEED = 1;
const SEED_COUNT = 3;
const CHECK_EVERY_MS = 100;
const CONVERGE_MAX_MS = 120_000;
const WARM_UP_MS = quick ? 5_000 : 10_000;
const WINDOW_MS = quick ? 5_000 : 10_000;
const CHANGES = quick ? 3 : 5;
const CHANGE_MAX_MS = 60_000;
/** Share of this machine's memory a size may be expected to need before it is skipped. */
const MEMORY_SHARE_MAX = 0.8;

/** What one cluster size measured. */
interface CaseResult {
  nodes: number;
  startSimSeconds: number;
  startWallSeconds: number;
  convergeSimSeconds: number;
  convergeWallSeconds: number;
  /** Rounds until 99% (and 100%) of the nodes held each change; null when never within the cap. */
  rounds99: Array<number | null>;
  rounds100: Array<number | null>;
  bytesPerNodeSecond: number;
  messagesPerNodeSecond: number;
  synsPerNodeSecond: number;
  acksPerNodeSecond: number;
  ack2sPerNodeSecond: number;
  probesPerNodeSecond: number;
  simSecondsPerWallSecond: number;
  convictions: number;
  peakRssBytes: number;
  /** Wall time of the whole case, its process included (set by the parent). */
  caseWallSeconds?: number;
}

/** Counters summed over the cluster, for differences over a window. */
interface Totals {
  bytes: number;
  messages: number;
  syns: number;
  acks: number;
  ack2s: number;
  connects: number;
  linkConnects: number;
  convictions: number;
}

function totals(sim: ClusterSim): Totals {
  const sum: Totals = {
    bytes: 0,
    messages: 0,
    syns: 0,
    acks: 0,
    ack2s: 0,
    connects: 0,
    linkConnects: 0,
    convictions: 0,
  };
  for (const node of sim.nodes) {
    for (const row of node.messaging.outboundMetrics().values()) {
      sum.bytes += row.sent_bytes;
      sum.messages += row.sent_count;
      sum.linkConnects += row.connection_attempts;
    }
    const metrics = node.gossiper.metrics;
    sum.syns += metrics.synsSent;
    sum.acks += metrics.acksSent;
    sum.ack2s += metrics.ack2sSent;
    sum.convictions += metrics.phiConvictions + metrics.refusedConvictions;
    sum.connects += node.connectAttempts;
  }
  return sum;
}

/** How many nodes hold `value` as `origin`'s LOAD (the origin included). */
function holders(sim: ClusterSim, origin: SimNode, value: string): number {
  let count = 0;
  for (const node of sim.nodes) {
    const state = node.gossiper.endpoint(origin.address)?.states.get(ApplicationState.LOAD);
    if (state?.value === value) count++;
  }
  return count;
}

/** Peak resident memory of this process (Linux `VmHWM`), else the current RSS. */
async function peakRssBytes(): Promise<number> {
  try {
    const status = await Deno.readTextFile("/proc/self/status");
    const kib = status.match(/VmHWM:\s*(\d+)\s*kB/)?.[1];
    if (kib !== undefined) return Number(kib) * 1024;
  } catch {
    // Not Linux: the current figure will do.
  }
  return Deno.memoryUsage().rss;
}

function progress(nodes: number, text: string): void {
  console.error(`  [${nodes} nodes] ${text}`);
}

/** One cluster size, in this (fresh) process. */
async function runCase(n: number): Promise<CaseResult> {
  const sim = new ClusterSim({
    seed: SEED,
    nodes: n,
    seedCount: SEED_COUNT,
    recordEvents: false,
  });
  try {
    let wallStart = performance.now();
    await sim.startAll();
    const startWallSeconds = (performance.now() - wallStart) / 1000;
    const startSimSeconds = sim.nowMs / 1000;
    progress(
      n,
      `started in ${startSimSeconds.toFixed(1)} s simulated, ${startWallSeconds.toFixed(1)} s wall`,
    );

    wallStart = performance.now();
    const convergeMs = await sim.runUntil(() => sim.converged(), CONVERGE_MAX_MS, CHECK_EVERY_MS);
    if (convergeMs === undefined) {
      throw new Error(`Cannot benchmark: ${n} nodes did not converge within ${CONVERGE_MAX_MS} ms`);
    }
    const convergeWallSeconds = (performance.now() - wallStart) / 1000;
    progress(
      n,
      `converged in ${convergeMs / 1000} s simulated, ${convergeWallSeconds.toFixed(1)} s wall`,
    );

    await sim.run(WARM_UP_MS);
    const before = totals(sim);
    wallStart = performance.now();
    await sim.run(WINDOW_MS);
    const windowWallSeconds = (performance.now() - wallStart) / 1000;
    const after = totals(sim);
    const perNodeSecond = (key: keyof Totals) =>
      (after[key] - before[key]) / n / (WINDOW_MS / 1000);
    progress(
      n,
      `steady window of ${WINDOW_MS / 1000} s simulated in ${windowWallSeconds.toFixed(1)} s wall`,
    );

    const intervalMs = sim.nodes[0]!.gossiper.config.gossipIntervalMs;
    const need99 = Math.ceil(0.99 * n);
    const rounds99: Array<number | null> = [];
    const rounds100: Array<number | null> = [];
    for (let k = 0; k < CHANGES; k++) {
      const origin = sim.nodes[SEED_COUNT + Math.floor((k * (n - SEED_COUNT)) / CHANGES)]!;
      const value = `bench-${k}`;
      const since = sim.nowMs;
      origin.gossiper.setLocalState(ApplicationState.LOAD, value);
      let reached99: number | null = null;
      let reached100: number | null = null;
      while (reached100 === null && sim.nowMs - since < CHANGE_MAX_MS) {
        await sim.run(CHECK_EVERY_MS);
        const count = holders(sim, origin, value);
        const rounds = Math.round(((sim.nowMs - since) / intervalMs) * 10) / 10;
        if (reached99 === null && count >= need99) reached99 = rounds;
        if (count === n) reached100 = rounds;
      }
      rounds99.push(reached99);
      rounds100.push(reached100);
      progress(
        n,
        `change from node ${origin.index}: 99% in ${reached99} rounds, all ${reached100}`,
      );
    }
    if (sim.errors.length > 0) throw sim.errors[0];
    return {
      nodes: n,
      startSimSeconds,
      startWallSeconds,
      convergeSimSeconds: convergeMs / 1000,
      convergeWallSeconds,
      rounds99,
      rounds100,
      bytesPerNodeSecond: perNodeSecond("bytes"),
      messagesPerNodeSecond: perNodeSecond("messages"),
      synsPerNodeSecond: perNodeSecond("syns"),
      acksPerNodeSecond: perNodeSecond("acks"),
      ack2sPerNodeSecond: perNodeSecond("ack2s"),
      probesPerNodeSecond: perNodeSecond("connects") - perNodeSecond("linkConnects"),
      simSecondsPerWallSecond: WINDOW_MS / 1000 / windowWallSeconds,
      convictions: totals(sim).convictions,
      peakRssBytes: await peakRssBytes(),
    };
  } finally {
    sim.close();
  }
}

/** Runs size `n` in a fresh process (heap limit raised to most of this machine's memory). */
async function runIsolated(n: number): Promise<CaseResult> {
  const heapMb = Math.floor((Deno.systemMemoryInfo().total * MEMORY_SHARE_MAX) / 2 ** 20);
  const args = [
    "run",
    "-A",
    `--v8-flags=--max-old-space-size=${heapMb}`,
    new URL(import.meta.url).pathname,
    `--case=${n}`,
  ];
  if (quick) args.push("--quick");
  const child = await spawnReady<CaseResult>(Deno.execPath(), args);
  await child.stop();
  return child.first;
}

const caseArg = Deno.args.find((a) => a.startsWith("--case="));
if (caseArg !== undefined) {
  console.log(JSON.stringify(await runCase(Number(caseArg.slice("--case=".length)))));
} else {
  await main();
}

/** A size that was not run, or failed, and why. */
interface Skipped {
  nodes: number;
  reason: string;
}

async function main() {
  const nodesArg = Deno.args.find((a) => a.startsWith("--nodes="));
  const sizes = nodesArg !== undefined
    ? nodesArg.slice("--nodes=".length).split(",").map(Number)
    : quick
    ? [100]
    : [100, 200, 500, 1000];
  for (const n of sizes) {
    if (!Number.isSafeInteger(n) || n < SEED_COUNT + 1) {
      throw new RangeError(`Cannot benchmark: node counts must be integers > ${SEED_COUNT}`);
    }
  }
  const memoryBytes = Deno.systemMemoryInfo().total;
  const results: CaseResult[] = [];
  const skipped: Skipped[] = [];
  const benchStart = performance.now();
  for (const n of sizes.toSorted((a, b) => a - b)) {
    const largest = results.at(-1);
    if (largest !== undefined) {
      // Memory grows with the number of node pairs (n²) at most; fit the exponent on the two
      // largest sizes measured, when there are two.
      const previous = results.at(-2);
      const exponent = previous === undefined ? 2 : Math.min(
        2,
        Math.max(
          1,
          Math.log(largest.peakRssBytes / previous.peakRssBytes) /
            Math.log(largest.nodes / previous.nodes),
        ),
      );
      const expected = largest.peakRssBytes * (n / largest.nodes) ** exponent;
      // The fit overestimates (the join phase's peak grows slower than n² once links are
      // cheap: 500 → 1000 nodes went 5.9 → 12.1 GB), so skip only what cannot fit at all.
      if (expected > memoryBytes) {
        const reason = `not run: expected to need ≈ ${gb(expected)} (peak RSS ` +
          `${gb(largest.peakRssBytes)} at ${largest.nodes} nodes, × n^${exponent.toFixed(2)}), ` +
          `this machine has ${gb(memoryBytes)}`;
        console.log(`${n} nodes: ${reason}`);
        skipped.push({ nodes: n, reason });
        continue;
      }
    }
    console.log(`${n} nodes:`);
    const wallStart = performance.now();
    try {
      const result = await runIsolated(n);
      result.caseWallSeconds = (performance.now() - wallStart) / 1000;
      results.push(result);
      console.log(`${n} nodes: ${summary(result)}; ${seconds(performance.now() - wallStart)} wall`);
    } catch (error) {
      const reason = `failed after ${seconds(performance.now() - wallStart)}: ${error}`;
      console.log(`${n} nodes: ${reason}`);
      skipped.push({ nodes: n, reason });
    }
  }
  console.log(`gossip bench: ${seconds(performance.now() - benchStart)} wall in all`);
  if (!quick) await record(results, skipped, memoryBytes);
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(bytes >= 10e9 ? 0 : 1)} GB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** "median (max)" of rounds; a change that never got there counts as "> cap". */
function rounds(values: Array<number | null>): string {
  const reached = values.filter((v): v is number => v !== null);
  const missed = values.length - reached.length;
  if (reached.length === 0) return `none within ${CHANGE_MAX_MS / 1000} s`;
  const text = `${median(reached).toFixed(1)} (${Math.max(...reached).toFixed(1)})`;
  return missed === 0 ? text : `${text}, ${missed} never`;
}

function summary(r: CaseResult): string {
  return `converged in ${r.convergeSimSeconds.toFixed(1)} s simulated; 99% in ` +
    `${rounds(r.rounds99)} rounds; ${(r.bytesPerNodeSecond / 1000).toFixed(1)} kB/node/s; ` +
    `${r.simSecondsPerWallSecond.toFixed(2)}× real time`;
}

async function record(results: CaseResult[], skipped: Skipped[], memoryBytes: number) {
  const commit = await shortCommit();
  const cpu = await cpuModel();
  const f = (digits: number) => (v: number) => v.toFixed(digits);
  const rows: Array<[string, (r: CaseResult) => string]> = [
    [
      "start all, one by one (the first seed waits 30 s): simulated / wall",
      (r) => `${f(1)(r.startSimSeconds)} s / ${f(1)(r.startWallSeconds)} s`,
    ],
    [
      "converge after the last start: simulated / wall",
      (r) => `${f(1)(r.convergeSimSeconds)} s / ${f(1)(r.convergeWallSeconds)} s`,
    ],
    [`rounds until 99% hold a change, median (max) of ${CHANGES}`, (r) => rounds(r.rounds99)],
    [`rounds until 100% hold it, median (max) of ${CHANGES}`, (r) => rounds(r.rounds100)],
    ["gossip bytes per node per second", (r) => `${f(1)(r.bytesPerNodeSecond / 1000)} kB`],
    ["messages per node per second", (r) => f(2)(r.messagesPerNodeSecond)],
    [
      "SYN / ACK / ACK2 per node per second",
      (r) =>
        `${f(2)(r.synsPerNodeSecond)} / ${f(2)(r.acksPerNodeSecond)} / ${
          f(2)(r.ack2sPerNodeSecond)
        }`,
    ],
    ["liveness-probe connects per node per second", (r) => f(1)(r.probesPerNodeSecond)],
    [
      "simulated seconds per wall second (steady state)",
      (r) => `${f(2)(r.simSecondsPerWallSecond)}×`,
    ],
    ["false convictions (no node failed)", (r) => String(r.convictions)],
    ["peak RSS of the process", (r) => gb(r.peakRssBytes)],
    ["wall time of the whole case", (r) => `${f(0)(r.caseWallSeconds ?? 0)} s`],
  ];
  await writeResultsSection("gossip", [
    "## Gossip (`bench/gossip_bench.ts`, simulated)",
    "",
    `Run ${new Date().toISOString().slice(0, 10)}, commit ${commit}, Deno ${Deno.version.deno}, ` +
    `${cpu}, ${navigator.hardwareConcurrency} cores, ${gb(memoryBytes)}; deterministic ` +
    `simulator (seed ${SEED}, ${SEED_COUNT} seeds, 1 ms latency), real Gossiper and ` +
    `MessagingService on the in-memory network, each size in a fresh process; steady state: ` +
    `${WARM_UP_MS / 1000} s after convergence, then a ${WINDOW_MS / 1000} s window; bytes are ` +
    `serialized messages (\`sent_bytes\`), before framing.`,
    "",
    `| measure | ${results.map((r) => `${r.nodes} nodes`).join(" | ")} |`,
    `|---|${results.map(() => "---:").join("|")}|`,
    ...rows.map(([name, cell]) => `| ${name} | ${results.map(cell).join(" | ")} |`),
    ...(skipped.length > 0 ? [""] : []),
    ...skipped.map((s) => `${s.nodes} nodes: ${s.reason}.`),
  ]);
}
