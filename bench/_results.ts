/**
 * Shared by the benchmarks: each owns a section of `bench/RESULTS.md` between
 * `<!-- name:begin -->` and `<!-- name:end -->`, replaced on every full run (text outside the
 * markers, such as notes, stays), and records the machine it ran on.
 */

const RESULTS_URL = new URL("./RESULTS.md", import.meta.url);

/** Replaces (or appends) section `name` of RESULTS.md with `body` (without the markers). */
export async function writeResultsSection(name: string, body: string[]): Promise<void> {
  let existing: string;
  try {
    existing = await Deno.readTextFile(RESULTS_URL);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    existing =
      "# Benchmark results\n\nFigures from `deno task bench`; compare only within one run.\n";
  }
  const section = [`<!-- ${name}:begin -->`, ...body, `<!-- ${name}:end -->`].join("\n");
  const pattern = new RegExp(`<!-- ${name}:begin -->[\\s\\S]*<!-- ${name}:end -->`);
  const updated = pattern.test(existing)
    ? existing.replace(pattern, () => section)
    : `${existing.trimEnd()}\n\n${section}\n`;
  await Deno.writeTextFile(RESULTS_URL, updated);
  console.log(`recorded in ${RESULTS_URL.pathname}`);
}

/** This machine's CPU model, from /proc/cpuinfo. */
export async function cpuModel(): Promise<string> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    const field = (name: string) => info.match(new RegExp(`${name}\\s*:\\s*(.+)`))?.[1]?.trim();
    return field("model name") ??
      `${field("vendor_id") ?? "unknown CPU"} family ${field("cpu family")} model ${
        field("model")
      }`;
  } catch {
    return "unknown CPU";
  }
}

/** The short commit of HEAD, or "uncommitted" outside a repository. */
export async function shortCommit(): Promise<string> {
  try {
    const output = await new Deno.Command("git", {
      args: ["rev-parse", "--short", "HEAD"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return new TextDecoder().decode(output.stdout).trim() || "uncommitted";
  } catch {
    return "uncommitted";
  }
}
