/**
 * A linearizability checker for key-value histories (Wing & Gong's search
 * with Lowe's just-in-time linearization and memoization, as Porcupine does
 * it), used to show — not argue — that replicated tables behave as one copy.
 *
 * A history is the operations clients invoked, each with the time it was
 * called, the time it returned (or none: the client crashed or timed out, so
 * the operation may or may not have taken effect) and its output (or none,
 * when unknown). Keys are independent registers, so the history is checked
 * per key (P-compositionality): linearizable iff every key's sub-history is.
 *
 * Search (per key): walk the calls and returns in time order; at a call, try
 * to linearize that operation now (the model accepts its output from the
 * current state); at a return whose operation is not linearized yet, undo
 * the last choice and try the next. A (linearized set, state) pair seen
 * before is not explored again, which keeps the search polynomial on the
 * histories real systems produce. An operation with no return can always be
 * placed last, which is the same as never having happened, so it never
 * forces a failure by itself.
 */

export type KvInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: unknown }
  /** Sets `value` if the current value equals `expected` (null: absent). */
  | { op: 'cas'; key: string; expected: unknown; value: unknown };

export type KvOutput = { value: unknown } | { ok: boolean };

export interface Operation {
  client: number;
  input: KvInput;
  /** Undefined when unknown (no answer came). */
  output?: KvOutput;
  callAt: number;
  /** Undefined when the operation never returned. */
  returnAt?: number;
}

export interface CheckResult {
  ok: boolean;
  /** The first key whose history has no linearization. */
  key?: string;
  /** Its operations, for the failure message. */
  operations?: Operation[];
}

type State = unknown;

/** The register model: null is absent. Returns the next state, or undefined when the output cannot follow from `state`. */
function step(state: State, op: Operation): { next: State } | undefined {
  const { input, output } = op;
  switch (input.op) {
    case 'get':
      if (output === undefined) return { next: state };
      return 'value' in output && sameValue(output.value ?? null, state) ? { next: state } : undefined;
    case 'put':
      return { next: input.value };
    case 'cas': {
      const matches = sameValue(input.expected ?? null, state);
      if (output === undefined) return { next: matches ? input.value : state };
      if (!('ok' in output) || output.ok !== matches) return undefined;
      return { next: matches ? input.value : state };
    }
  }
}

/** Checks every key of the history. */
export function checkKvHistory(history: readonly Operation[]): CheckResult {
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    const list = byKey.get(op.input.key) ?? [];
    list.push(op);
    byKey.set(op.input.key, list);
  }
  for (const [key, operations] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    if (!linearizable(operations)) return { ok: false, key, operations };
  }
  return { ok: true };
}

interface Entry {
  op: number;
  isCall: boolean;
  time: number;
  prev: Entry | null;
  next: Entry | null;
  /** For a call: its return entry. */
  match: Entry | null;
}

/** One register's history, from the initial state null. */
export function linearizable(operations: readonly Operation[]): boolean {
  const head = buildEntries(operations);
  const linearized = new Uint8Array(operations.length);
  const seen = new Set<string>();
  const stack: Array<{ entry: Entry; state: State }> = [];
  let state: State = null;
  let entry = head.next;
  while (head.next !== null) {
    if (entry === null) return false; // cannot happen: the last entry is a return
    if (entry.isCall) {
      const result = step(state, operations[entry.op]!);
      if (result !== undefined) {
        linearized[entry.op] = 1;
        const key = `${linearized.join('')}|${JSON.stringify(result.next) ?? 'undefined'}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ entry, state });
          state = result.next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op] = 0;
      }
      entry = entry.next;
    } else {
      // The return of an operation not yet linearized: an earlier choice was wrong.
      const top = stack.pop();
      if (top === undefined) return false;
      state = top.state;
      linearized[top.entry.op] = 0;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return true;
}

/** A list of calls and returns in time order, calls first at equal times (they overlap). Operations without a return end after everything. */
function buildEntries(operations: readonly Operation[]): Entry {
  const entries: Entry[] = [];
  operations.forEach((op, i) => {
    const ret: Entry = { op: i, isCall: false, time: op.returnAt ?? Number.POSITIVE_INFINITY, prev: null, next: null, match: null };
    const call: Entry = { op: i, isCall: true, time: op.callAt, prev: null, next: null, match: ret };
    entries.push(call, ret);
  });
  entries.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
  const head: Entry = { op: -1, isCall: false, time: Number.NEGATIVE_INFINITY, prev: null, next: null, match: null };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

/** Takes a call and its return out of the list. */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Puts them back, in reverse order of lift. */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
