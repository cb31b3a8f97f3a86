/**
 * Monitors (Erlang's `monitor/2`, Akka's deathwatch): who hears when an
 * actor stops, crashes, or its node goes down or leaves.
 *
 * A monitor fires once, with a reason, and is then gone:
 *   stopped    the actor stopped
 *   crashed    the actor failed and its supervision stopped it
 *   not-found  the actor did not exist when the monitor reached its node
 *              (watching a dead actor reports at once)
 *   node-down  membership declared the actor's node down (or removed it)
 *   node-left  the actor's node left the cluster
 *
 * A node-down verdict is final: if the node was only partitioned away and
 * comes back, its actor may still be running, but the monitor has fired and
 * the watcher is not told again; it must look the actor up anew (names,
 * whereis) and watch it again. This is Erlang's rule, and what makes a
 * failure detector's verdict actionable: nothing is silently resurrected.
 *
 * Local actors spawned through the layer report their stop at once (nact's
 * afterStop); other local actors are checked every LOCAL_CHECK_INTERVAL_MS.
 * A remote actor is watched by its node: the watcher's node sends a watch
 * frame, the target's node answers with a terminated frame. Frames can be
 * lost with a broken link, so a watcher's node sends its watches again when
 * a link to that node comes up (the target's node keys them by watcher node
 * and id, so a repeat is harmless).
 *
 * A monitor watches one process of the target's node: when a link to that
 * node comes up from a newer process (the node restarted faster than the
 * failure detector's verdict), the monitor fires node-down — its actor died
 * with the former process — rather than watching whatever now runs at that
 * path. Generations are compared as numbers: a process that starts with a
 * lower one than its predecessor (an empty data directory and a clock set
 * back) is taken for a former process until the down verdict.
 *
 * Those watches belong to one process of the watcher node: a node restarted
 * under its name (a newer generation, on its link or its watch frames)
 * numbers its monitors from 1 again, so the watches of its former process
 * are dropped then, as when the node goes down. Kept, they would answer the
 * new process's monitors of the same ids when the former's targets stop.
 */
import type { PeerIdentity } from '../transport/transport.js';
import { RemoteRef } from './actor-ref.js';

export type TerminationReason = 'stopped' | 'crashed' | 'not-found' | 'node-down' | 'node-left';

export const TERMINATION_REASONS: readonly TerminationReason[] = ['stopped', 'crashed', 'not-found', 'node-down', 'node-left'];

/** How often local actors not spawned through the layer are checked for having stopped, ms. @default 1000 */
export const LOCAL_CHECK_INTERVAL_MS = 1_000;

/** The message a watching actor receives. */
export interface Terminated {
  type: 'terminated';
  ref: RemoteRef;
  reason: TerminationReason;
}

/** What monitors need of the actor layer. */
export interface MonitorHost {
  self: string;
  /** Whether an actor exists at this local path. */
  exists(path: readonly string[]): boolean;
  /** Sends a frame to a node; false when it cannot now (unknown, down, or no room). */
  send(node: string, frame: unknown[]): boolean;
  /** The node's membership state, undefined when unknown. */
  stateOf(node: string): string | undefined;
}

interface Monitor {
  id: number;
  target: RemoteRef;
  /** The generation of the target node's process being watched; undefined until a link to that node came up. */
  generation: number | undefined;
  notify(reason: TerminationReason): void;
}

export class Monitors {
  /** Monitors this node holds, by id. */
  private readonly mine = new Map<number, Monitor>();
  /** Watches other nodes asked of actors here: path key → watcher node → their monitor ids. */
  private readonly theirs = new Map<string, Map<string, Set<number>>>();
  /** The generation of each node's process last heard from (link up, watch frame): the one whose watches `theirs` holds. */
  private readonly watcherGenerations = new Map<string, number>();
  /** The generation of each node's process on the last link that came up: the process a new monitor of its actors watches. */
  private readonly linkGenerations = new Map<string, number>();
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: MonitorHost) {}

  /** Calls `notify` once when the actor at `target` terminates; returns the cancel. */
  monitor(target: RemoteRef, notify: (reason: TerminationReason) => void): () => void {
    const id = this.nextId++;
    this.mine.set(id, { id, target, generation: this.linkGenerations.get(target.node), notify });
    if (target.node === this.host.self) {
      if (!this.host.exists(target.path)) this.fire(id, 'not-found');
      else this.armLocalCheck();
    } else {
      const state = this.host.stateOf(target.node);
      if (state === undefined || state === 'down' || state === 'removed') this.fire(id, 'node-down');
      else if (state === 'left') this.fire(id, 'node-left');
      else this.host.send(target.node, ['w', id, [...target.path]]);
    }
    return () => this.cancel(id);
  }

  /** Monitors whose target is `ref` (for unwatch by watcher and target). */
  find(target: RemoteRef, match: (notify: Monitor['notify']) => boolean): number[] {
    return [...this.mine.values()].filter((m) => m.target.equals(target) && match(m.notify)).map((m) => m.id);
  }

  cancel(id: number): void {
    const m = this.mine.get(id);
    if (m === undefined) return;
    this.mine.delete(id);
    if (m.target.node !== this.host.self) this.host.send(m.target.node, ['u', id]);
  }

  // ---- Events ----

  /** An actor of this node stopped (spawned through the layer: told at once). */
  localStopped(path: readonly string[], reason: 'stopped' | 'crashed'): void {
    const key = pathKey(path);
    for (const m of [...this.mine.values()]) if (m.target.node === this.host.self && pathKey(m.target.path) === key) this.fire(m.id, reason);
    const watchers = this.theirs.get(key);
    this.theirs.delete(key);
    for (const [node, ids] of watchers ?? []) for (const id of ids) this.host.send(node, ['t', id, reason]);
  }

  /** Membership's verdict on a node: its actors' monitors fire; its watches of actors here are dropped. */
  nodeGone(node: string, reason: 'node-down' | 'node-left'): void {
    for (const m of [...this.mine.values()]) if (m.target.node === node) this.fire(m.id, reason);
    this.dropWatchesOf(node);
    this.linkGenerations.delete(node); // a monitor made from now on watches whichever process links up next
  }

  /**
   * A link to `peer` came up: frames to it may have been lost, so our watches of its actors go again — to the
   * same process. A newer process restarted the node: the actors watched died with the former one (node-down),
   * and are not silently exchanged for new actors at the same paths.
   */
  linkUp(peer: PeerIdentity): void {
    this.isCurrentProcess(peer);
    const known = this.linkGenerations.get(peer.name);
    if (known !== undefined && peer.generation < known) return; // a former process's link, late: it watches nothing
    this.linkGenerations.set(peer.name, peer.generation);
    for (const m of [...this.mine.values()]) {
      if (m.target.node !== peer.name) continue;
      if (m.generation !== undefined && m.generation < peer.generation) {
        this.host.send(peer.name, ['u', m.id]); // a watch queued for the former process must not attach in the new one
        this.fire(m.id, 'node-down');
        continue;
      }
      m.generation = peer.generation;
      this.host.send(peer.name, ['w', m.id, [...m.target.path]]);
    }
  }

  // ---- Frames from other nodes ----

  watchRequested(from: PeerIdentity, id: number, path: string[]): void {
    if (!this.isCurrentProcess(from)) return; // a former process's watch, delivered late: nobody to tell
    if (!this.host.exists(path)) {
      this.host.send(from.name, ['t', id, 'not-found']);
      return;
    }
    const key = pathKey(path);
    let watchers = this.theirs.get(key);
    if (watchers === undefined) this.theirs.set(key, (watchers = new Map()));
    let ids = watchers.get(from.name);
    if (ids === undefined) watchers.set(from.name, (ids = new Set()));
    ids.add(id);
    this.armLocalCheck();
  }

  unwatchRequested(from: PeerIdentity, id: number): void {
    if (!this.isCurrentProcess(from)) return; // a former process's unwatch, late: the id may be the new process's
    for (const watchers of this.theirs.values()) watchers.get(from.name)?.delete(id);
  }

  terminated(from: PeerIdentity, id: number, reason: string): void {
    const m = this.mine.get(id);
    if (m === undefined || m.target.node !== from.name) return;
    this.fire(id, (TERMINATION_REASONS as readonly string[]).includes(reason) ? (reason as TerminationReason) : 'stopped');
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.mine.clear();
    this.theirs.clear();
    this.watcherGenerations.clear();
    this.linkGenerations.clear();
  }

  // ---- Internals ----

  private fire(id: number, reason: TerminationReason): void {
    const m = this.mine.get(id);
    if (m === undefined) return;
    this.mine.delete(id);
    try {
      m.notify(reason);
    } catch {
      // A watcher's callback must not break the others.
    }
  }

  /**
   * Whether `peer` is the process of its node whose watches this node keeps (or may keep): false for an
   * older generation. A newer one restarted the node: the watches of its former process are dropped.
   */
  private isCurrentProcess(peer: PeerIdentity): boolean {
    const known = this.watcherGenerations.get(peer.name);
    if (known !== undefined && peer.generation < known) return false;
    if (known !== undefined && peer.generation > known) this.dropWatchesOf(peer.name);
    this.watcherGenerations.set(peer.name, peer.generation);
    return true;
  }

  private dropWatchesOf(node: string): void {
    for (const watchers of this.theirs.values()) watchers.delete(node);
    this.watcherGenerations.delete(node);
  }

  /** Local actors not spawned through the layer stop without telling: look for them now and then while any is watched. */
  private armLocalCheck(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.checkLocal(), LOCAL_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  private checkLocal(): void {
    let watched = 0;
    for (const m of [...this.mine.values()]) {
      if (m.target.node !== this.host.self) continue;
      if (!this.host.exists(m.target.path)) this.fire(m.id, 'stopped');
      else watched++;
    }
    for (const [key, watchers] of [...this.theirs]) {
      if (watchers.size === 0) this.theirs.delete(key);
      else if (!this.host.exists(JSON.parse(key) as string[])) this.localStopped(JSON.parse(key) as string[], 'stopped');
      else watched++;
    }
    if (watched === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function pathKey(path: readonly string[]): string {
  return JSON.stringify(path);
}
