/**
 * Link benchmark (issue 3): two processes on loopback, CRC framing, through the public API.
 *
 * - One-way throughput of 100-byte messages on one small link: `send()` in one process,
 *   counted by the receiving handler in the other (msgs/s).
 * - One-way throughput of 1 MiB messages on the large link (GB/s).
 * - Request/response latency (ECHO on the urgent link) at a fixed 10k requests/s, p50/p99.
 * - Raw Deno TCP moving the same bytes one way, and a raw 100-byte ping-pong at the same
 *   rate: the limit, measured in the same run.
 *
 * Every case runs in fresh processes (this script re-runs itself with `--case=…`): measured
 * in one long-lived sender, the latency and throughput cases disturbed each other through the
 * heap. Run: `deno task bench` (all benchmarks) or `deno run -A bench/link_bench.ts [--quick]`.
 * Writes its section of bench/RESULTS.md unless `--quick`.
 */

import { SystemClock } from "../src/clock.ts";
import { MessagingService } from "../src/net/messaging_service.ts";
import { TcpTransport } from "../src/net/tcp_transport.ts";
import type { InetAddressAndPort } from "../src/wire/inet_address.ts";
import { messageSerializedSize } from "../src/wire/message_codec.ts";
import { ECHO_REQ } from "../src/wire/verbs.ts";
import { testVerbRegistry } from "../test/net/_messaging_node.ts";
import { spawnReady } from "../test/_child_process.ts";
import { setImmediate } from "node:timers";
import { shortCommit, writeResultsSection } from "./_results.ts";

const quick = Deno.args.includes("--quick");
const SMALL_COUNT = quick ? 1_000_000 : 4_000_000;
const LARGE_COUNT = quick ? 200 : 1000;
const LATENCY_SECONDS = quick ? 2 : 5;
const RATE_PER_SECOND = 10_000;
const clock = new SystemClock();
const nodePath = new URL("../test/net/_messaging_node.ts", import.meta.url).pathname;
const rawPeerPath = new URL("./_raw_tcp_peer.ts", import.meta.url).pathname;

type CaseName = "latency" | "small" | "large" | "raw-latency" | "raw-small" | "raw-large";
/** What one case reports: rates, or sorted latency percentiles. */
type CaseResult = Record<string, number>;

function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Where `taskset` exists (and RINGWIRE_BENCH_PIN is not 0), peers run pinned to CPU 1 and the
 * measuring side to CPU 0: on a 2-core VM, two busy processes otherwise migrate between cores.
 */
async function hasTaskset(): Promise<boolean> {
  if (Deno.env.get("RINGWIRE_BENCH_PIN") === "0") return false;
  try {
    const { success } = await new Deno.Command("taskset", { args: ["-c", "1", "true"] }).output();
    return success;
  } catch {
    return false;
  }
}
const pin = await hasTaskset();

/** Starts a child process (pinned to `cpu` when possible) and reads its first JSON line. */
function spawnJsonLine(args: string[], cpu: number) {
  // deno-lint-ignore no-explicit-any
  return spawnReady<any>(
    pin ? "taskset" : Deno.execPath(),
    pin ? ["-c", String(cpu), Deno.execPath(), ...args] : args,
  );
}

/**
 * Offers `RATE_PER_SECOND` requests for `seconds`, one in flight at a time (as the raw TCP
 * ping-pong must be, to match replies to requests): each request goes at its scheduled time;
 * when the previous one returned more than an interval late, the request goes at once, counts
 * as late, and the schedule is re-anchored (never a burst to catch up). Returns p50, p99 (µs)
 * measured from the actual send, and the late count.
 */
async function pacedLatency(seconds: number, request: () => Promise<unknown>): Promise<CaseResult> {
  const total = RATE_PER_SECOND * seconds;
  const samples = new Float64Array(total);
  const intervalNs = 1e9 / RATE_PER_SECOND;
  let start = clock.monotonicNs();
  let late = 0;
  for (let i = 0; i < total; i++) {
    let dueNs = start + i * intervalNs;
    const nowNs = clock.monotonicNs();
    if (nowNs > dueNs + intervalNs) {
      late++;
      start = nowNs - i * intervalNs;
      dueNs = nowNs;
    }
    while (clock.monotonicNs() < dueNs) await yieldNow();
    const t0 = clock.monotonicNs();
    await request();
    samples[i] = (clock.monotonicNs() - t0) / 1000;
  }
  samples.sort();
  const at = (p: number) => samples[Math.min(total - 1, Math.floor(total * p))]!;
  return { p50: at(0.5), p99: at(0.99), late, total };
}

/** One measured case, in this (fresh) process. */
async function runCase(name: CaseName): Promise<CaseResult> {
  if (name.startsWith("raw")) return await runRawCase(name);
  const { verbs, sink, wait } = testVerbRegistry();
  const service = new MessagingService({
    localAddress: { host: "127.0.0.1", port: 0 },
    transport: new TcpTransport({ clock, readBufferSizeBytes: 256 * 1024 }),
    clock,
    verbs,
  });
  await service.start();
  const peer = await spawnJsonLine(["run", "-A", nodePath, "127.0.0.2", "0"], 1);
  const target = peer.first as InetAddressAndPort;
  const peerKey = `${target.host}:${target.port}`;
  let sent = 0;
  /** Sends `count` messages of `size` bytes within the link's capacity; returns seconds. */
  const throughput = async (count: number, size: number): Promise<number> => {
    const payload = new Uint8Array(size).fill(0x5a);
    const batch = size >= 65536 ? 4 : 4096;
    const start = clock.monotonicNs();
    for (let i = 0; i < count; i += batch) {
      for (let j = 0; j < batch && i + j < count; j++) {
        service.send(service.createMessage(sink, payload), target);
      }
      while ((service.outboundMetrics().get(peerKey)?.pending_bytes ?? 0) > 3 << 20) {
        await yieldNow();
      }
    }
    sent += count;
    const total = new Uint8Array(8);
    new DataView(total.buffer).setFloat64(0, sent);
    await service.sendWithCallback(
      service.createMessage(wait, total, { expiresAtMs: clock.nowMs() + 120_000 }),
      target,
    );
    const overloads = service.outboundMetrics().get(peerKey)?.overload_count ?? 0;
    if (overloads > 0) throw new Error(`the benchmark overloaded the link (${overloads} drops)`);
    return (clock.monotonicNs() - start) / 1e9;
  };
  let result: CaseResult;
  try {
    if (name === "latency") {
      const echo = () =>
        service.sendWithCallback(service.createMessage(ECHO_REQ, undefined), target);
      await pacedLatency(1, echo);
      result = await pacedLatency(LATENCY_SECONDS, echo);
    } else if (name === "small") {
      await throughput(200_000, 100);
      result = {
        rate: SMALL_COUNT / (await throughput(SMALL_COUNT, 100)),
        wireBytes: messageSerializedSize(service.createMessage(sink, new Uint8Array(100)), 12),
      };
    } else {
      await throughput(20, 1 << 20);
      result = { rate: (LARGE_COUNT * (1 << 20)) / (await throughput(LARGE_COUNT, 1 << 20)) };
    }
  } finally {
    await service.close();
    await peer.stop();
  }
  return result;
}

async function runRawCase(name: CaseName): Promise<CaseResult> {
  const mode = name === "raw-latency" ? "echo" : "sink-ack";
  const totalBytes = name === "raw-small" ? SMALL_COUNT * 116 : LARGE_COUNT * (1 << 20);
  const peer = await spawnJsonLine(
    ["run", "--allow-net=127.0.0.2", rawPeerPath, mode, "127.0.0.2", String(totalBytes)],
    1,
  );
  const conn = await Deno.connect({ hostname: "127.0.0.2", port: peer.first.port });
  conn.setNoDelay(true);
  try {
    if (name === "raw-latency") {
      const ping = new Uint8Array(100);
      const pong = new Uint8Array(100);
      const rawPing = async () => {
        await conn.write(ping);
        let got = 0;
        while (got < 100) got += (await conn.read(pong.subarray(got))) ?? 100;
      };
      await pacedLatency(1, rawPing);
      return await pacedLatency(LATENCY_SECONDS, rawPing);
    }
    const chunk = new Uint8Array(name === "raw-small" ? 64 * 1024 : 1 << 20).fill(0x5a);
    const start = clock.monotonicNs();
    let written = 0;
    while (written < totalBytes) {
      const n = Math.min(chunk.length, totalBytes - written);
      let offset = 0;
      while (offset < n) offset += await conn.write(chunk.subarray(offset, n));
      written += n;
    }
    await conn.read(new Uint8Array(1));
    const seconds = (clock.monotonicNs() - start) / 1e9;
    return name === "raw-small" ? { rate: SMALL_COUNT / seconds } : { rate: totalBytes / seconds };
  } finally {
    conn.close();
    await peer.stop();
  }
}

/** Runs `name` in a fresh process (pinned to CPU 0 when possible) and returns its result. */
async function runIsolated(name: CaseName): Promise<CaseResult> {
  const args = ["run", "-A", new URL(import.meta.url).pathname, `--case=${name}`];
  if (quick) args.push("--quick");
  const child = await spawnJsonLine(args, 0);
  await child.stop();
  return child.first as CaseResult;
}

const caseArg = Deno.args.find((a) => a.startsWith("--case="));
if (caseArg !== undefined) {
  console.log(JSON.stringify(await runCase(caseArg.slice("--case=".length) as CaseName)));
} else {
  await main();
}

async function main() {
  const median = (values: number[]) => values.slice().sort((x, y) => x - y)[1]!;
  const latency = await runIsolated("latency");
  const rawLatency = await runIsolated("raw-latency");
  console.log(
    `ringwire echo @10k/s: p50 ${latency.p50!.toFixed(0)} µs, p99 ${latency.p99!.toFixed(0)} µs`,
  );
  console.log(
    `raw TCP ping-pong @10k/s: p50 ${rawLatency.p50!.toFixed(0)} µs, p99 ${
      rawLatency.p99!.toFixed(0)
    } µs`,
  );
  const small: number[] = [];
  const rawSmall: number[] = [];
  const large: number[] = [];
  const rawLarge: number[] = [];
  let wireBytes = 0;
  // Three rounds, each case in fresh processes; medians are reported with their range.
  for (let round = 0; round < 3; round++) {
    const s = await runIsolated("small");
    small.push(s.rate!);
    wireBytes = s.wireBytes!;
    rawSmall.push((await runIsolated("raw-small")).rate!);
    large.push((await runIsolated("large")).rate!);
    rawLarge.push((await runIsolated("raw-large")).rate!);
    console.log(
      `round ${round + 1}: ringwire 100 B ${(small[round]! / 1e6).toFixed(2)} M msgs/s, 1 MiB ${
        (large[round]! / 1e9).toFixed(2)
      } GB/s; raw ${(rawSmall[round]! / 1e6).toFixed(2)} M msgs/s, ${
        (rawLarge[round]! / 1e9).toFixed(2)
      } GB/s`,
    );
  }
  const range = (values: number[], scale: number) =>
    `${(Math.min(...values) / scale).toFixed(2)}–${(Math.max(...values) / scale).toFixed(2)}`;
  const figures = [
    {
      name: "100-byte messages, one small link, one-way",
      value: `${(median(small) / 1e6).toFixed(2)} M msgs/s (${range(small, 1e6)})`,
      limit: `${(median(rawSmall) / 1e6).toFixed(2)} M msgs/s (${wireBytes} B each)`,
      ratio: `${((median(small) / median(rawSmall)) * 100).toFixed(0)}%`,
    },
    {
      name: "1 MiB messages, large link, one-way",
      value: `${(median(large) / 1e9).toFixed(2)} GB/s (${range(large, 1e9)})`,
      limit: `${(median(rawLarge) / 1e9).toFixed(2)} GB/s (${range(rawLarge, 1e9)})`,
      ratio: `${((median(large) / median(rawLarge)) * 100).toFixed(0)}%`,
    },
    {
      name: "request/response at 10k req/s, p50",
      value: `${latency.p50!.toFixed(0)} µs`,
      limit: `${rawLatency.p50!.toFixed(0)} µs`,
      ratio: "",
    },
    {
      name: "request/response at 10k req/s, p99",
      value: `${latency.p99!.toFixed(0)} µs`,
      limit: `${rawLatency.p99!.toFixed(0)} µs`,
      ratio: "",
    },
    {
      name: "requests sent late (schedule re-anchored)",
      value: `${latency.late} of ${latency.total}`,
      limit: `${rawLatency.late} of ${rawLatency.total}`,
      ratio: "",
    },
  ];
  if (!quick) await record(figures);
}

async function record(figures: Array<Record<string, string>>) {
  const commit = await shortCommit();
  await writeResultsSection("link", [
    "## Links (`bench/link_bench.ts`)",
    "",
    `Run ${new Date().toISOString().slice(0, 10)}, commit ${commit}, Deno ${Deno.version.deno}, ` +
    `${navigator.hardwareConcurrency} cores; two processes on 127.0.0.1 → 127.0.0.2` +
    `${pin ? " (pinned to CPUs 0 and 1)" : ""}, CRC framing, every case in fresh processes; ` +
    `throughput: median (range) of 3 rounds of ${SMALL_COUNT} small and ${LARGE_COUNT} large ` +
    `messages; latency over ${LATENCY_SECONDS} s.`,
    "",
    "| case | Ringwire | raw Deno TCP (limit) | ratio |",
    "|---|---:|---:|---:|",
    ...figures.map((f) => `| ${f.name} | ${f.value} | ${f.limit} | ${f.ratio} |`),
  ]);
}
