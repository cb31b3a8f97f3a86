/**
 * Named behaviours: how an actor is made from msgpack-encodable arguments,
 * registered under the same name on every node that may run it, so that
 * another node can ask for one (`spawnOn`) — a closure cannot travel, a
 * name and its arguments can (Erlang's `spawn(Node, Module, Function, Args)`).
 */
import { spawn, type ActorFunc, type Ref, type SupervisionActorFunc } from 'nact';
import { ConflictError, TroupeError } from '../errors.js';

/** What a behaviour makes: the actor function, its initial state, and optionally its supervision. */
export interface Behaviour<State = any, Msg = any> {
  f: ActorFunc<State, Msg, Ref<never>>;
  initialState?: State;
  onCrash?: SupervisionActorFunc<Msg, Ref<never>, Ref<any>>;
}

export type BehaviourFactory = (args: unknown) => Behaviour;

/** Why an actor stopped, as a monitor reports it. */
export type StopReason = 'stopped' | 'crashed';

export class Behaviours {
  private readonly factories = new Map<string, BehaviourFactory>();

  define(name: string, factory: BehaviourFactory): void {
    if (typeof name !== 'string' || name === '') throw new TroupeError('ERR_BAD_REQUEST', 'a behaviour needs a non-empty name');
    this.factories.set(name, factory);
  }

  has(name: string): boolean {
    return this.factories.has(name);
  }

  names(): string[] {
    return [...this.factories.keys()].sort();
  }

  /**
   * Spawns an actor of behaviour `name` under `parent`. `onStop` hears its
   * stop (after a crash its supervision chose to stop it: 'crashed').
   * @throws TroupeError ERR_NOT_FOUND for an unknown behaviour, ConflictError when `actorName` is taken
   */
  spawn(parent: Ref<never>, name: string, args: unknown, actorName: string | undefined, onStop: (reason: StopReason) => void): Ref<any> {
    const factory = this.factories.get(name);
    if (factory === undefined) throw new TroupeError('ERR_NOT_FOUND', `no behaviour named ${JSON.stringify(name)} on this node: define it (actors.defineBehaviour) on every node that may run it; known: ${this.names().join(', ') || 'none'}`);
    const behaviour = factory(args);
    let crashed = false;
    const onCrash: SupervisionActorFunc<any, Ref<never>, Ref<any>> = (msg, err, ctx, child) => {
      const decision = behaviour.onCrash ? behaviour.onCrash(msg, err, ctx, child) : ctx.stop;
      if (decision === ctx.stop) crashed = true;
      return decision;
    };
    try {
      return spawn(parent, behaviour.f, actorName, { initialState: behaviour.initialState, onCrash, afterStop: () => onStop(crashed ? 'crashed' : 'stopped') });
    } catch (err) {
      if (err instanceof Error && /already exists/.test(err.message)) throw new ConflictError(`an actor named ${JSON.stringify(actorName)} already runs on this node: pick another name, or stop it first`);
      throw err;
    }
  }
}
