/**
 * The state machines of the Raft groups the tables run on a node: the
 * catalogue's (one per node) and one per table partition. The raft host
 * calls `stateMachineFor` for the groups it reopens at start; the control
 * loop calls it for the replicas it creates.
 */

import type { StateMachine } from '../raft/state-machine.js';
import type { NodeStorage } from '../storage/node-storage.js';
import { CATALOGUE_GROUP, parsePartitionGroup } from './catalogue.js';
import { CatalogueStateMachine } from './catalogue-state-machine.js';
import { PartitionStateMachine } from './partition-state-machine.js';
import { TroupeError } from '../errors.js';

/** The named reads of the catalogue, for the router (any node reads it at its leader). */
export const CATALOGUE_QUERIES = {
  'catalogue.list': (sm: StateMachine) => catalogueOf(sm).list(),
} as const;

function catalogueOf(sm: StateMachine): CatalogueStateMachine {
  if (!(sm instanceof CatalogueStateMachine)) throw new TroupeError('ERR_INTERNAL', 'the raft group is not the catalogue');
  return sm;
}

export class TableStateMachines {
  readonly catalogue: CatalogueStateMachine;

  constructor(private readonly storage: NodeStorage) {
    this.catalogue = new CatalogueStateMachine(storage);
  }

  /** The state machine of `group`: the catalogue's, or a new partition's. */
  stateMachineFor = (group: string): StateMachine => {
    if (group === CATALOGUE_GROUP) return this.catalogue;
    if (parsePartitionGroup(group) === null) throw new TroupeError('ERR_INTERNAL', `raft group ${JSON.stringify(group)} is neither the catalogue nor a table partition`);
    return new PartitionStateMachine(this.storage, group);
  };
}
