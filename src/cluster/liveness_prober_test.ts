import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { ManualClock } from "../clock.ts";
import { MemoryNetwork } from "../net/memory_transport.ts";
import type { InetAddressAndPort } from "../wire/inet_address.ts";
import {
  LivenessProber,
  type Probe,
  type ProbeOutcome,
  type ProbeTarget,
  transportProbe,
} from "./liveness_prober.ts";

const PEER: ProbeTarget = {
  key: "10.0.0.2:7000",
  address: { host: "10.0.0.2", port: 7000 },
};
const OTHER: ProbeTarget = {
  key: "10.0.0.3:7000",
  address: { host: "10.0.0.3", port: 7000 },
};

/** A prober whose probes answer from `outcomes`, in order; records convictions. */
function scripted(refusalsToConvict: number, outcomes: ProbeOutcome[]) {
  const convicted: string[] = [];
  const probed: InetAddressAndPort[] = [];
  const prober = new LivenessProber({
    probe: (address) => {
      probed.push(address);
      const outcome = outcomes.shift();
      if (outcome === undefined) throw new Error("test probed more often than scripted");
      return Promise.resolve(outcome);
    },
    refusalsToConvict,
    onConvict: (key) => convicted.push(key),
  });
  return { prober, convicted, probed };
}

/** A probe whose answers the test gives by hand. */
function manualProbe() {
  const pending: Array<{ address: InetAddressAndPort; answer: (o: ProbeOutcome) => void }> = [];
  const probe: Probe = (address) =>
    new Promise((resolve) => pending.push({ address, answer: resolve }));
  return { probe, pending };
}

Deno.test("LivenessProber convicts after refusalsToConvict refusals in a row", async () => {
  for (const n of [1, 2, 3, 5]) {
    const { prober, convicted } = scripted(n, Array(n).fill("refused"));
    for (let i = 1; i < n; i++) {
      await prober.probe(PEER);
      deepEqual(convicted, [], `not yet after ${i} of ${n}`);
    }
    await prober.probe(PEER);
    deepEqual(convicted, [PEER.key], `convicted after ${n}`);
  }
});

Deno.test("LivenessProber.probe() probes the target's address", async () => {
  const { prober, probed } = scripted(2, ["refused"]);
  await prober.probe(PEER);
  deepEqual(probed, [PEER.address]);
});

Deno.test("LivenessProber resets the count when a probe is accepted", async () => {
  const { prober, convicted } = scripted(2, ["refused", "accepted", "refused", "refused"]);
  await prober.probe(PEER);
  await prober.probe(PEER); // accepted: a stalled process still listens
  await prober.probe(PEER);
  deepEqual(convicted, [], "the accepted probe broke the run of refusals");
  await prober.probe(PEER);
  deepEqual(convicted, [PEER.key]);
});

Deno.test("LivenessProber resets the count when a probe gets no answer", async () => {
  const { prober, convicted } = scripted(3, ["refused", "refused", "no-answer", "refused"]);
  for (let i = 0; i < 4; i++) await prober.probe(PEER);
  deepEqual(convicted, []);
});

Deno.test("LivenessProber counts refusals of each peer separately", async () => {
  const { prober, convicted } = scripted(2, ["refused", "refused", "refused"]);
  await prober.probe(PEER);
  await prober.probe(OTHER);
  deepEqual(convicted, []);
  await prober.probe(OTHER);
  deepEqual(convicted, [OTHER.key]);
});

Deno.test("LivenessProber convicts a peer once, then starts over", async () => {
  const { prober, convicted } = scripted(2, ["refused", "refused", "refused", "refused"]);
  await prober.probe(PEER);
  await prober.probe(PEER);
  await prober.probe(PEER);
  deepEqual(convicted, [PEER.key], "the state was dropped at conviction");
  await prober.probe(PEER);
  deepEqual(convicted, [PEER.key, PEER.key]);
});

Deno.test("LivenessProber.probe() is a no-op while a probe of the same key is in flight", async () => {
  const { probe, pending } = manualProbe();
  const convicted: string[] = [];
  const prober = new LivenessProber({
    probe,
    refusalsToConvict: 1,
    onConvict: (key) => convicted.push(key),
  });
  const first = prober.probe(PEER);
  equal(prober.inFlight(PEER.key), true);
  await prober.probe(PEER); // returns at once
  await prober.probe(PEER);
  equal(pending.length, 1, "one connect for the key");
  equal(prober.metrics.probes, 1);
  const other = prober.probe(OTHER);
  equal(pending.length, 2, "another key has its own probe");
  equal(prober.inFlight(OTHER.key), true);

  pending[0]?.answer("refused");
  await first;
  equal(prober.inFlight(PEER.key), false);
  deepEqual(convicted, [PEER.key]);
  pending[1]?.answer("accepted");
  await other;
  equal(prober.inFlight(OTHER.key), false);
  deepEqual(convicted, [PEER.key]);
});

Deno.test("LivenessProber.inFlight() is false for a key never probed", () => {
  const prober = new LivenessProber({
    probe: () => Promise.resolve("accepted"),
    refusalsToConvict: 1,
    onConvict: () => {},
  });
  equal(prober.inFlight("10.0.0.9:7000"), false);
});

Deno.test("LivenessProber.probe() rejects and clears in-flight when the probe fails", async () => {
  const prober = new LivenessProber({
    probe: () => Promise.reject(new Error("boom")),
    refusalsToConvict: 1,
    onConvict: () => {},
  });
  await rejects(prober.probe(PEER), /boom/);
  equal(prober.inFlight(PEER.key), false);
});

Deno.test("LivenessProber.forget() drops the count of refusals", async () => {
  const { prober, convicted } = scripted(2, ["refused", "refused", "refused"]);
  await prober.probe(PEER);
  prober.forget(PEER.key);
  await prober.probe(PEER);
  deepEqual(convicted, [], "the refusal before forget() no longer counts");
  await prober.probe(PEER);
  deepEqual(convicted, [PEER.key]);
});

Deno.test("LivenessProber ignores the answer of a probe whose key was forgotten meanwhile", async () => {
  const { probe, pending } = manualProbe();
  const convicted: string[] = [];
  const prober = new LivenessProber({
    probe,
    refusalsToConvict: 1,
    onConvict: (key) => convicted.push(key),
  });
  const probing = prober.probe(PEER);
  prober.forget(PEER.key);
  equal(prober.inFlight(PEER.key), false);
  pending[0]?.answer("refused");
  await probing;
  deepEqual(convicted, []);
  equal(prober.metrics.refused, 0);
});

Deno.test("LivenessProber.metrics counts probes, refusals and convictions", async () => {
  const { prober } = scripted(2, [
    "refused",
    "accepted",
    "refused",
    "no-answer",
    "refused",
    "refused",
  ]);
  for (let i = 0; i < 6; i++) await prober.probe(PEER);
  deepEqual(prober.metrics, { probes: 6, refused: 4, convictions: 1 });
});

Deno.test("LivenessProber rejects refusalsToConvict below 1 or not an integer", () => {
  for (const refusalsToConvict of [0, -1, 1.5, NaN, Infinity]) {
    throws(
      () =>
        new LivenessProber({
          probe: () => Promise.resolve("refused"),
          refusalsToConvict,
          onConvict: () => {},
        }),
      (error: unknown) => error instanceof RangeError && /refusalsToConvict/.test(error.message),
      String(refusalsToConvict),
    );
  }
});

// --- transportProbe over the in-memory network --------------------------------------------------

const TARGET = { host: "10.0.0.2", port: 7000 };

Deno.test("transportProbe() returns refused when nothing listens on the port", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  const probe = transportProbe(network.transport("10.0.0.1"), 1000);
  equal(await probe(TARGET), "refused");
  equal(clock.pendingTimers, 0);
});

Deno.test("transportProbe() returns accepted and closes the connection when a listener exists", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  const listener = await network.transport(TARGET.host).listen(TARGET);
  try {
    const probe = transportProbe(network.transport("10.0.0.1"), 1000);
    equal(await probe(TARGET), "accepted");
    const server = await listener.accept();
    ok(server !== null);
    equal(await server.read(), null, "the probe sent no byte and closed its end");
    server.close();
    equal(network.openConnectionCount, 0);
  } finally {
    listener.close();
  }
});

Deno.test("transportProbe() returns no-answer after the timeout when the host is down", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  const listener = await network.transport(TARGET.host).listen(TARGET);
  try {
    network.setHostDown(TARGET.host, true);
    const probe = transportProbe(network.transport("10.0.0.1"), 1000);
    let outcome: ProbeOutcome | undefined;
    const probing = probe(TARGET).then((o) => outcome = o);
    await clock.advanceAsync(999);
    equal(outcome, undefined, "still waiting before the timeout");
    await clock.advanceAsync(1);
    await probing;
    equal(outcome, "no-answer");
    equal(clock.pendingTimers, 0);
  } finally {
    listener.close();
  }
});

Deno.test("transportProbe() returns no-answer when the peer is partitioned away", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  network.partition(["10.0.0.1"], [TARGET.host]);
  const probing = transportProbe(network.transport("10.0.0.1"), 250)(TARGET);
  clock.advance(250);
  equal(await probing, "no-answer");
});

Deno.test("LivenessProber over transportProbe convicts a crashed peer", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  const convicted: string[] = [];
  const prober = new LivenessProber({
    probe: transportProbe(network.transport("10.0.0.1"), 1000),
    refusalsToConvict: 2,
    onConvict: (key) => convicted.push(key),
  });
  const listener = await network.transport(TARGET.host).listen(TARGET);
  const target = { key: "10.0.0.2:7000", address: TARGET };
  await prober.probe(target);
  await prober.probe(target);
  deepEqual(convicted, [], "a listening peer is never convicted");
  (await listener.accept())?.close();
  (await listener.accept())?.close();
  listener.close(); // the process died
  await prober.probe(target);
  await prober.probe(target);
  deepEqual(convicted, [target.key]);
  equal(network.openConnectionCount, 0);
});

Deno.test("LivenessProber keeps a peer suspect while refused or within its window", async () => {
  const outcomes: ProbeOutcome[] = ["accepted", "refused", "accepted"];
  const prober = new LivenessProber({
    probe: () => Promise.resolve(outcomes.shift()!),
    refusalsToConvict: 3,
    onConvict: () => {},
  });
  equal(prober.isSuspect(PEER.key, 0), false);
  prober.suspect(PEER.key, 1000);
  equal(prober.isSuspect(PEER.key, 999), true);
  await prober.probe(PEER); // accepted: a dying process's listener can still answer once
  equal(prober.isSuspect(PEER.key, 999), true, "the window outlives an accepted probe");
  await prober.probe(PEER); // refused
  equal(prober.isSuspect(PEER.key, 5000), true, "a refusal keeps it suspect past the window");
  await prober.probe(PEER); // accepted
  equal(prober.isSuspect(PEER.key, 5000), false, "an accepted probe clears it after the window");
});
