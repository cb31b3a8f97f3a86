/**
 * How many messages a nact actor handles per event-loop turn.
 *
 * nact runs each message of an actor in its own `setImmediate` and schedules
 * the next only after it, so an actor handles one message per turn of the
 * event loop. A turn costs a poll and, for an actor answering other nodes,
 * one socket write per answer: an echo actor served ~25,000 remote queries/s
 * with 65% of its node's time in writes. Like Akka's dispatcher
 * `throughput` setting, an actor here handles up to `messagesPerTurn`
 * messages of its mailbox in one turn before it yields, so the answers of
 * one turn leave in one write; a small budget still lets the first answers
 * leave while the actor works on the rest. Order per mailbox is unchanged
 * and each message starts once the value the one before returned has
 * settled (it is awaited, as nact does); a promise chain a handler starts
 * without returning it may now interleave with the next message of the same
 * turn, where nact would have let one turn pass.
 *
 * This replaces nact's `Actor.prototype.handleMessage` for every actor of
 * the process (it is process-wide, as the event loop is): the one other
 * place, besides local-actors.ts, that reaches into nact's internals.
 */
import { createRequire } from 'node:module';

/**
 * Messages an actor handles in one event-loop turn before it yields to I/O and other actors. @default 16
 * (bench/actors.ts: local dispatch 0.4 → ~2 million/s; remote queries with 64 in flight ~2.5× over 1 per turn;
 * 8–16 kept the two nodes of a query stream working at once, 64 made them take turns)
 */
export const DEFAULT_ACTOR_MESSAGES_PER_TURN = 16;

interface NactActor {
  busy: boolean;
  stopped: boolean;
  immediate: unknown;
  state: unknown;
  mailbox: { length: number; shift(): { message: unknown; sender: unknown } | undefined };
  f: (this: unknown, state: unknown, message: unknown, ctx: unknown) => unknown;
  createContext(sender: unknown): unknown;
  afterMessage(): void;
  processNext(): void;
  handleFault(message: unknown, sender: unknown, error: unknown): void;
}

const require = createRequire(import.meta.url);
const { Actor } = require('nact/lib/actor.js') as { Actor: { prototype: { handleMessage(this: NactActor, message: unknown, sender: unknown): void } } };
const nactHandleMessage = Actor.prototype.handleMessage;

let messagesPerTurn = 1;
let chosen = false;

/** Sets how many messages an actor of this process handles per turn (1 is nact's own scheduling); it stays for the process. */
export function setActorMessagesPerTurn(n: number = DEFAULT_ACTOR_MESSAGES_PER_TURN): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`messages per turn must be a whole number ≥ 1, got ${n}`);
  messagesPerTurn = n;
  chosen = true;
  Actor.prototype.handleMessage = n === 1 ? nactHandleMessage : handleMessage;
}

/** At a node's start: the default, unless the application chose a setting. */
export function useDefaultActorMessagesPerTurn(): void {
  if (!chosen) setActorMessagesPerTurn(DEFAULT_ACTOR_MESSAGES_PER_TURN);
}

/** The current setting. */
export function actorMessagesPerTurn(): number {
  return messagesPerTurn;
}

function handleMessage(this: NactActor, message: unknown, sender: unknown): void {
  this.busy = true;
  this.immediate = setImmediate(() => void runTurn(this, message, sender));
}

/** Handles `message`, then more of the mailbox, up to the budget; then hands over to nact's processNext (next turn or idle). */
async function runTurn(actor: NactActor, message: unknown, sender: unknown): Promise<void> {
  for (let handled = 1; ; handled++) {
    try {
      const ctx = actor.createContext(sender);
      actor.state = await Promise.resolve(actor.f.call(ctx, actor.state, message, ctx));
      actor.afterMessage();
    } catch (err) {
      actor.handleFault(message, sender, err);
      return;
    }
    if (handled >= messagesPerTurn || actor.stopped || actor.mailbox.length === 0) return actor.processNext();
    const next = actor.mailbox.shift()!;
    message = next.message;
    sender = next.sender;
  }
}
