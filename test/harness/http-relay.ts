/**
 * HTTP from inside a network namespace, for clients that send many requests:
 * one long-lived child process in the namespace (started with the netns
 * harness, so it is killed by PID with the network) reads one JSON request
 * per line on stdin, sends it with `sendHttp`, and writes one JSON outcome
 * per line on stdout. `httpInNetns` starts a process per request, too slow
 * for a stream of operations.
 *
 * The test process keeps the clock: it records when it handed a request to
 * the relay and when the outcome came back, an interval that contains the
 * request's real one, which is all a linearizability check needs.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sendHttp, type HttpCall, type HttpSend, type SendOutcome } from './tables-client.js';

/** The script to run in the namespace (`node <RELAY_SCRIPT>`). */
export const RELAY_SCRIPT = fileURLToPath(import.meta.url);

/** An `HttpSend` over a relay child started with `RELAY_SCRIPT`; outcomes are matched to requests by id. */
export function relaySend(child: ChildProcess): HttpSend {
  const pending = new Map<number, (outcome: SendOutcome) => void>();
  let next = 0;
  let closed: string | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const { id, outcome } = JSON.parse(line) as { id: number; outcome: SendOutcome };
    pending.get(id)?.(outcome);
    pending.delete(id);
  });
  child.once('exit', (code) => {
    closed = `the relay exited with ${code}`;
    for (const resolve of pending.values()) resolve({ kind: 'lost', error: closed });
    pending.clear();
  });
  return (call: HttpCall) =>
    new Promise((resolve) => {
      if (closed !== undefined) return resolve({ kind: 'not-sent', error: closed });
      const id = next++;
      pending.set(id, resolve);
      child.stdin!.write(JSON.stringify({ id, call }) + '\n');
    });
}

if (process.argv[1] === RELAY_SCRIPT) {
  createInterface({ input: process.stdin }).on('line', (line) => {
    const { id, call } = JSON.parse(line) as { id: number; call: HttpCall };
    void sendHttp(call).then((outcome) => process.stdout.write(JSON.stringify({ id, outcome }) + '\n'));
  });
  process.stdin.once('end', () => process.exit(0));
}
