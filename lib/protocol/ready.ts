/**
 * The one shape every protocol core has (after etcd raft's RawNode):
 *
 *   step(input, now)  feed one input (a message, a tick, a request) at monotonic time `now` (ms);
 *   ready()           the outputs produced since the last advance, as data;
 *   advance(ready)    acknowledge that the shell has performed them.
 *
 * Ordering contract for shells: persist `ready.persist` (when a core has any)
 * before sending `ready.messages`; then deliver `ready.events`; then arm one
 * timer for `ready.nextWakeAt` and step `{ type: 'tick' }` when it fires.
 * A core never reads a clock, opens a socket, sets a timer, draws unseeded
 * randomness or touches the disk.
 */

/** A message for the node at `to` (an address `host:port`). */
export interface Outbound<M> {
  to: string;
  msg: M;
}

export interface Ready<M, E> {
  messages: Outbound<M>[];
  events: E[];
  /** Absolute monotonic time (ms) at which the core wants a tick; null when it needs none. */
  nextWakeAt: number | null;
}

export interface ProtocolCore<I, M, E> {
  step(input: I, now: number): void;
  ready(): Ready<M, E>;
  advance(ready: Ready<M, E>): void;
}
