/**
 * ReadIndex on the leader (thesis §6.4): a linearizable read without a log
 * write. For each request the leader
 *
 *   1. has committed an entry of its current term (otherwise the request
 *      waits in the core until it has: a new leader does not know the
 *      commit index before that);
 *   2. records readIndex = its commit index now;
 *   3. sends a heartbeat round carrying a fresh context number, and waits
 *      until a majority of voters (itself included) answers with that
 *      context or a later one: then no other leader existed when the
 *      request arrived;
 *   4. releases the read state (requestId, readIndex); the shell waits
 *      until its applied index reaches readIndex, then runs the query.
 *
 * Contexts grow monotonically, so one quorum of answers confirms every
 * earlier request too (etcd read_only.go batching). Requests are released
 * in arrival order. The queue is dropped when the node stops being leader.
 */

import { hasQuorum } from './quorum.js';
import type { NodeId } from './types.js';

export interface PendingRead {
  requestId: string;
  /** Who asked: this node, or a follower that forwarded the request. */
  from: NodeId;
  index: number;
  context: number;
  acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  private context = 0;
  private readonly queue: PendingRead[] = [];

  /** Queues a request at `index` with a new context; returns the context to send in the next heartbeat round. */
  add(requestId: string, from: NodeId, index: number, self: NodeId): number {
    this.context++;
    this.queue.push({ requestId, from, index, context: this.context, acks: new Set([self]) });
    return this.context;
  }

  /** The context heartbeats should carry: the newest pending request's, or 0 when none waits. */
  pendingContext(): number {
    return this.queue.length === 0 ? 0 : this.context;
  }

  /** `from` answered a heartbeat carrying `context`: it confirms every request up to that context. */
  ack(from: NodeId, context: number): void {
    for (const read of this.queue) {
      if (read.context > context) break;
      read.acks.add(from);
    }
  }

  /** Removes and returns, in order, every request confirmed by a quorum of `voters` (a later confirmed one confirms earlier ones). */
  release(voters: readonly NodeId[]): PendingRead[] {
    let last = -1;
    for (let i = 0; i < this.queue.length; i++) {
      const acks = this.queue[i]!.acks;
      if (hasQuorum(voters, (v) => acks.has(v))) last = i;
    }
    return last < 0 ? [] : this.queue.splice(0, last + 1);
  }

  /** Removes and returns every pending request (leadership lost). */
  drain(): PendingRead[] {
    return this.queue.splice(0, this.queue.length);
  }

  size(): number {
    return this.queue.length;
  }
}
