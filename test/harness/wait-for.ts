/**
 * Polling with a named deadline: tests wait for a condition, never for a
 * fixed time. On timeout the error names what never happened and the last
 * value or error seen, so a failure explains itself.
 */
export interface WaitOptions {
  timeoutMs: number;
  what: string;
  intervalMs?: number;
  /** Checked on every poll; a message returned here fails the wait at once (e.g. a process exited). */
  abortIf?: () => string | undefined;
}

export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, options: WaitOptions): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  let last: unknown;
  for (;;) {
    const aborted = options.abortIf?.();
    if (aborted) throw new Error(`while waiting for ${options.what}: ${aborted}`);
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what} (last: ${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
