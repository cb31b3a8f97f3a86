/**
 * `troupe start`: runs a node in the foreground until a signal.
 *
 * The first SIGINT or SIGTERM stops the node gracefully (leave, then close)
 * and exits 0, or 1 if the stop fails or outlives `STOP_DEADLINE_MS`. A
 * second signal exits 1 at once. A signal that arrives while the node is
 * still starting aborts the start (startNode's signal) and exits 0. A failed
 * start prints one line, naming the setting when one is at fault.
 */
import type { TroupeConfig } from '../config.js';
import { formatAddress, nodeHost } from '../node-address.js';
import { ConfigError } from '../errors.js';
import { CliError } from './client.js';

/** Longest a graceful stop may take before the process gives up and exits 1, ms. */
export const STOP_DEADLINE_MS = 30_000;

/** What `start` needs of a running node (lib/node.ts `TroupeNode`). */
interface RunningNode {
  readonly httpPort: number;
  readonly clusterPort: number;
  readonly address: string;
  stop(): Promise<void>;
}

export async function runStart(config: TroupeConfig): Promise<never> {
  let node: RunningNode | undefined;
  let stopping = false;
  const starting = new AbortController();

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`troupe: second ${signal}: exiting without a graceful stop\n`);
      process.exit(1);
    }
    stopping = true;
    const deadline = setTimeout(() => {
      process.stderr.write(`troupe: graceful stop did not finish within ${STOP_DEADLINE_MS / 1000} s: exiting\n`);
      process.exit(1);
    }, STOP_DEADLINE_MS);
    deadline.unref();
    if (!node) {
      starting.abort(); // startNode stops at its next step and rejects
      return;
    }
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`troupe: stop failed: ${oneLine(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  try {
    const { startNode } = await import('../node.js');
    node = await startNode({ loadedConfig: config, signal: starting.signal });
  } catch (err) {
    if (stopping) {
      process.stderr.write('troupe: stopped by a signal during start-up\n');
      process.exit(0);
    }
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw new CliError(`cannot start ${config.nodeName}: ${oneLine(err)}`);
  }

  process.stdout.write(`troupe ${config.nodeName} up: http=http://${displayHost(config.httpBind)}:${node.httpPort} cluster=${node.address || formatAddress(nodeHost(config.nodeName), node.clusterPort)}\n`);
  if (stopping) {
    stopping = false;
    stop('SIGTERM');
  }
  // Keep running: the node's servers hold the event loop open until a signal ends the process.
  return new Promise<never>(() => {});
}

/** Where a local client reaches a server bound to `bind`. */
function displayHost(bind: string): string {
  if (bind === '0.0.0.0' || bind === '::' || bind === '') return '127.0.0.1';
  return bind.includes(':') ? `[${bind}]` : bind;
}

export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*\n\s*/g, ' ');
}
