/**
 * What one node asks another about its table replicas, over the node's Rpc:
 *
 *   tables.probe               does this node hold a catalogue replica?
 *   tables.bootstrap-catalogue create the catalogue here as its only voter
 *                              (the first table of a cluster; see tables-service.ts);
 *   tables.host-replica        create a replica of a group this node was added
 *                              to, from the group's bootstrap membership (it
 *                              then replays the log or a snapshot from the leader);
 *   tables.destroy-replica     destroy this node's replica of a dropped partition;
 *   tables.stale-query         run a partition query on this node's replica as
 *                              it is, without a read index (stale reads).
 *
 * Every handler checks its argument's shape (a peer is authenticated, but a
 * bug or an old release must not crash a node) and is idempotent.
 */

import type { RaftHostHandle } from '../../actors/raft-host-actor.js';
import { BadRequestError, ReplicaLostError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Membership, NodeId } from '../protocol/raft/types.js';
import { UnknownReplicaError } from '../raft/forwarding.js';
import type { Rpc } from '../rpc/rpc.js';
import { CATALOGUE_GROUP, parsePartitionGroup } from './catalogue.js';
import { PARTITION_QUERIES } from './partition-client.js';
import type { TableStateMachines } from './state-machines.js';

export const RPC_TABLES_PROBE = 'tables.probe';
export const RPC_TABLES_BOOTSTRAP = 'tables.bootstrap-catalogue';
export const RPC_TABLES_HOST_REPLICA = 'tables.host-replica';
export const RPC_TABLES_DESTROY_REPLICA = 'tables.destroy-replica';
export const RPC_TABLES_STALE_QUERY = 'tables.stale-query';

export interface ProbeAnswer {
  catalogue: boolean;
}

export interface ReplicaRpcDeps {
  self: NodeId;
  rpc: Rpc;
  raft: RaftHostHandle;
  machines: TableStateMachines;
  /** When this node's data directory was first used (NodeStateStore.bornAt). */
  bornAt: number;
  log: Logger;
}

const isNodeList = (v: unknown): v is NodeId[] => Array.isArray(v) && v.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 300);

function membershipArg(v: unknown): Membership {
  const m = v as Partial<Membership> | null;
  if (typeof m !== 'object' || m === null || !isNodeList(m.voters) || !isNodeList(m.learners) || m.voters.length === 0) {
    throw new BadRequestError('a replica needs a bootstrap membership {voters, learners} with at least one voter');
  }
  return { voters: [...m.voters].sort(), learners: [...m.learners].sort() };
}

function groupArg(v: unknown, partitionOnly: boolean): string {
  const group = (v as { group?: unknown } | null)?.group;
  if (typeof group !== 'string' || (parsePartitionGroup(group) === null && (partitionOnly || group !== CATALOGUE_GROUP))) {
    throw new BadRequestError(`not a ${partitionOnly ? 'table partition' : 'tables'} raft group: ${JSON.stringify(group)}`);
  }
  return group;
}

/** Whether this node holds a replica of `group`. */
export function holds(raft: RaftHostHandle, group: string): boolean {
  try {
    return raft.host().status(group) !== null;
  } catch {
    return false;
  }
}

/** Serves the tables' replica requests on this node. */
export function serveReplicaRpc({ self, rpc, raft, machines, bornAt, log }: ReplicaRpcDeps): void {
  const reported = new Set<string>();
  rpc.handle(RPC_TABLES_PROBE, (): ProbeAnswer => ({ catalogue: holds(raft, CATALOGUE_GROUP) }));

  rpc.handle(RPC_TABLES_BOOTSTRAP, async () => {
    if (!holds(raft, CATALOGUE_GROUP)) {
      await raft.createGroup(CATALOGUE_GROUP, { voters: [self], learners: [] }, machines.catalogue, { campaign: true });
    }
    return { catalogue: true };
  });

  rpc.handle(RPC_TABLES_HOST_REPLICA, async (arg) => {
    const group = groupArg(arg, false);
    const bootstrap = membershipArg((arg as { bootstrap?: unknown }).bootstrap);
    const { voter, groupCreatedAt } = arg as { voter?: unknown; groupCreatedAt?: unknown };
    if (holds(raft, group)) return { group };
    // A voter whose data directory is younger than the group held a replica in a directory that is gone:
    // recreating it empty would let it vote without the entries it acknowledged (or twice in a term).
    if (voter === true && typeof groupCreatedAt === 'number' && groupCreatedAt > 0 && bornAt > groupCreatedAt) {
      const err = new ReplicaLostError(self, group);
      if (!reported.has(group)) {
        reported.add(group);
        log.error({ group }, err.message);
      }
      throw err;
    }
    await raft.createGroup(group, bootstrap, machines.stateMachineFor(group));
    return { group };
  });

  rpc.handle(RPC_TABLES_DESTROY_REPLICA, async (arg) => {
    const group = groupArg(arg, true);
    await raft.destroyGroup(group);
    return { group };
  });

  rpc.handle(RPC_TABLES_STALE_QUERY, (arg) => {
    const group = groupArg(arg, true);
    const { name, arg: queryArg } = arg as { name?: unknown; arg?: unknown };
    const query = typeof name === 'string' ? PARTITION_QUERIES[name as keyof typeof PARTITION_QUERIES] : undefined;
    if (query === undefined) throw new BadRequestError(`no partition query named ${JSON.stringify(name)}`);
    const sm = raft.host().stateMachine(group);
    if (sm === null) throw new UnknownReplicaError(group);
    return query(sm, queryArg);
  });
}
