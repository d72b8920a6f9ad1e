/**
 * Child processes for cross-process tests and benchmarks: start a command, read the JSON line
 * it prints once ready, and stop it by closing its stdin.
 */

/** A started child: its first JSON line, and how to stop it. */
export interface ReadyChild<T> {
  /** The first line the child printed, parsed as JSON. */
  readonly first: T;
  /** Closes the child's stdin and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Runs `command args…` and resolves once it printed its first line (parsed as JSON).
 * @throws {Error} when the child exits before printing a line
 */
export async function spawnReady<T>(command: string, args: string[]): Promise<ReadyChild<T>> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (!buffered.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`${command} ${args.join(" ")} exited before it was ready`);
    }
    buffered += value;
  }
  const first = JSON.parse(buffered.slice(0, buffered.indexOf("\n"))) as T;
  const writer = child.stdin.getWriter();
  return {
    first,
    async stop() {
      await writer.close().catch(() => {});
      await child.status;
      // Cancelling the decoded stream cancels the child's stdout under it.
      await reader.cancel().catch(() => {});
    },
  };
}
