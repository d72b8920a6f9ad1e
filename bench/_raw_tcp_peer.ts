/**
 * Raw Deno TCP peer for the link benchmark's baselines: `sink` counts bytes and reports the
 * total when the connection closes; `echo` writes back every byte it reads.
 * Usage: deno run --allow-net _raw_tcp_peer.ts <sink|echo> <host>
 * Prints `{"port":…}` once listening; serves one connection, then exits.
 */

const [mode = "sink", host = "127.0.0.1"] = Deno.args;
const listener = Deno.listen({ hostname: host, port: 0 });
console.log(JSON.stringify({ port: (listener.addr as Deno.NetAddr).port }));
const conn = await listener.accept();
conn.setNoDelay(true);
const buf = new Uint8Array(256 * 1024);
let total = 0;
for (;;) {
  const n = await conn.read(buf);
  if (n === null) break;
  total += n;
  if (mode === "echo") {
    let written = 0;
    while (written < n) written += await conn.write(buf.subarray(written, n));
  } else if (mode === "sink-ack" && total >= Number(Deno.args[2] ?? Infinity)) {
    await conn.write(Uint8Array.of(1));
  }
}
conn.close();
listener.close();
console.log(JSON.stringify({ total }));
