/**
 * `deno task bench`: runs every benchmark in turn, passing its arguments on (`--quick`).
 * Each benchmark writes its own section of bench/RESULTS.md (not with `--quick`).
 */

const benches = ["wire_bench.ts", "link_bench.ts", "gossip_bench.ts"];
for (const bench of benches) {
  console.log(`\n== ${bench}`);
  const args = ["run", "-A", new URL(`./${bench}`, import.meta.url).pathname, ...Deno.args];
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) Deno.exit(code);
}
