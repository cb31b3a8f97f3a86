/**
 * Supervision decisions for troupe's system actors.
 *
 * A crashed system actor is reset (its state rebuilt by its initial-state
 * function, which reloads what is durable) as long as it has crashed fewer
 * than `maxRestarts` times within `windowMs`; past that budget the fault is
 * escalated, because a crash loop means the node cannot do its job and an
 * operator (or the orchestrator's liveness probe) must see it.
 */
import type { SupervisionActorFunc } from 'nact';
import type { Logger } from '../lib/log.js';

export interface RestartBudget {
  maxRestarts: number;
  windowMs: number;
}

/** Ten restarts a minute: survives a burst of bad input, stops a tight crash loop. */
export const DEFAULT_RESTART_BUDGET: RestartBudget = { maxRestarts: 10, windowMs: 60_000 };

export interface SupervisionHooks {
  /** Called after each decision to restart; counts restarts for metrics and status. */
  onRestart?: (actor: string, error: unknown) => void;
  /** Called when the budget is exhausted. */
  onGiveUp?: (actor: string, error: unknown) => void;
}

export function resetWithinBudget<Msg>(
  actor: string,
  log: Logger,
  hooks: SupervisionHooks = {},
  budget: RestartBudget = DEFAULT_RESTART_BUDGET,
  now: () => number = () => performance.now(),
): SupervisionActorFunc<Msg, any, any> {
  const restarts: number[] = [];
  return (msg, err, ctx) => {
    const at = now();
    while (restarts.length > 0 && at - restarts[0]! > budget.windowMs) restarts.shift();
    if (restarts.length >= budget.maxRestarts) {
      log.error({ actor, err, restarts: restarts.length }, `${actor} crashed ${restarts.length} times within ${budget.windowMs} ms; escalating`);
      hooks.onGiveUp?.(actor, err);
      return ctx.stop;
    }
    restarts.push(at);
    log.warn({ actor, err, msgType: (msg as { type?: unknown } | undefined)?.type }, `${actor} crashed; restarting it from durable state`);
    hooks.onRestart?.(actor, err);
    return ctx.reset;
  };
}
