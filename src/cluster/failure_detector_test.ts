import { equal, ok, throws } from "node:assert/strict";
import { FailureDetector, PHI_FACTOR } from "./failure_detector.ts";

/** Reports heartbeats every `everyMs` from `fromMs` to `toMs` inclusive. */
function heartbeats(
  detector: FailureDetector,
  peer: string,
  fromMs: number,
  toMs: number,
  everyMs: number,
) {
  for (let t = fromMs; t <= toMs; t += everyMs) detector.report(peer, t);
}

/** First time (ms after `lastMs`, in 100 ms steps) at which `peer` is convicted. */
function convictionDelayMs(detector: FailureDetector, peer: string, lastMs: number): number {
  for (let t = lastMs; t < lastMs + 120_000; t += 100) {
    if (detector.interpret(peer, t)) return t - lastMs;
  }
  return Infinity;
}

Deno.test("phi is 0.4343 times the silence over the mean interval", () => {
  const detector = new FailureDetector();
  heartbeats(detector, "b", 0, 1_000_000, 1000);
  equal(detector.sampleCount("b"), 1000, "the window is bounded at 1000 samples");
  equal(detector.meanIntervalMs("b"), 1000);
  ok(Math.abs(detector.phi("b", 1_000_000 + 5000) - PHI_FACTOR * 5) < 1e-12);
});

Deno.test("with 1 s heartbeats a silent peer is convicted after ≈ 18.4 s (threshold 8)", () => {
  const detector = new FailureDetector();
  heartbeats(detector, "b", 0, 1_000_000, 1000);
  // Keep interpreting every 100 ms so no local pause is seen.
  const delay = convictionDelayMs(detector, "b", 1_000_000);
  equal(delay, 18_500, "8 · ln(10) · 1000 ms ≈ 18421 ms, first 100 ms step after it");
});

Deno.test("a peer heard from once is convicted after ≈ 36.8 s (only the 2 s seed interval)", () => {
  const detector = new FailureDetector();
  detector.report("b", 0);
  equal(convictionDelayMs(detector, "b", 0), 36_900);
});

Deno.test("a lower threshold convicts sooner", () => {
  const detector = new FailureDetector({ phiConvictThreshold: 5 });
  heartbeats(detector, "b", 0, 200_000, 1000);
  equal(convictionDelayMs(detector, "b", 200_000), 11_600);
});

Deno.test("gaps longer than the maximum interval are not recorded", () => {
  const detector = new FailureDetector();
  heartbeats(detector, "b", 0, 10_000, 1000);
  const before = detector.sampleCount("b");
  detector.report("b", 40_000); // back after 30 s away
  equal(detector.sampleCount("b"), before, "the 30 s gap does not teach patience");
  equal(detector.phi("b", 40_000), 0, "but the clock of silence restarts");
});

Deno.test("no conviction within 5 s after a local pause", () => {
  const detector = new FailureDetector();
  heartbeats(detector, "b", 0, 100_000, 1000);
  equal(detector.interpret("b", 100_000), false);
  // Our process stalls for 30 s: the next round sees every peer silent.
  equal(detector.interpret("b", 130_000), false, "the pause itself convicts no one");
  equal(detector.interpret("b", 134_900), false, "nor the 5 s after it");
  equal(detector.interpret("b", 135_100), true, "then the peer is judged again");
});

Deno.test("remove() forgets a peer's history", () => {
  const detector = new FailureDetector();
  heartbeats(detector, "b", 0, 50_000, 100);
  detector.remove("b");
  equal(detector.sampleCount("b"), 0);
  equal(detector.phi("b", 60_000), 0);
  detector.report("b", 60_000);
  equal(detector.meanIntervalMs("b"), 2000, "starts again from the seed interval");
});

Deno.test("impossible settings are refused", () => {
  throws(() => new FailureDetector({ phiConvictThreshold: 0 }), RangeError);
  throws(() => new FailureDetector({ windowSize: 0 }), RangeError);
});

Deno.test("FailureDetector keeps exactly the last windowSize intervals as its window grows", () => {
  const detector = new FailureDetector({
    windowSize: 100,
    initialIntervalMs: 500,
    maxIntervalMs: 2000,
  });
  detector.report("p", 0);
  let nowMs = 0;
  // 300 intervals of 1000 ms after the 500 ms seed: the seed and the oldest ones drop out.
  for (let i = 0; i < 300; i++) detector.report("p", nowMs += 1000);
  equal(detector.sampleCount("p"), 100);
  equal(detector.meanIntervalMs("p"), 1000);
  // Mixed intervals: the mean is that of the last 100 exactly.
  const recent: number[] = [];
  for (let i = 0; i < 150; i++) {
    const interval = 100 + (i % 7) * 100;
    detector.report("p", nowMs += interval);
    recent.push(interval);
  }
  const last = recent.slice(-100);
  equal(detector.meanIntervalMs("p"), last.reduce((a, b) => a + b, 0) / 100);
});

Deno.test("FailureDetector refuses a window size that is not an integer", () => {
  throws(() => new FailureDetector({ windowSize: 2.5 }), RangeError);
  throws(() => new FailureDetector({ windowSize: 0 }), RangeError);
});
