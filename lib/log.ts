/**
 * Structured JSON logs (pino) on stderr, one logger per node with child
 * loggers per component (`{ component: 'transport' }`). stdout stays free for
 * CLI output.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}
