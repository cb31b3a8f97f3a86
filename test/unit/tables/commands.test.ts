/**
 * The replicated commands of a table partition: encode/decode round trips,
 * the apply-time shape check (malformed entries come back as data, never a
 * throw), and the documented limits enforced at propose time with errors
 * that say what to do.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Packr } from 'msgpackr';
import { BadRequestError, BatchTooLargeError, KeyTooLargeError, LimitExceededError, ValueTooLargeError } from '../../../lib/errors.js';
import {
  decodeCommand, decodeKey, decodeValue, encodeCommand, encodeExpected, encodeKey, encodeMulti, encodeValue,
  MAX_BATCH_OPS, MAX_COMMAND_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES, TABLE_COMMAND_FORMAT, type MultiCommand, type TableCommand,
} from '../../../lib/tables/commands.js';

const k = (s: string): Uint8Array => encodeKey(s);
const v = (x: unknown): Uint8Array => encodeValue(x);
const pack = (x: unknown): Uint8Array => new Packr({ useRecords: false }).pack(x);

/** Compares commands with their byte fields as plain arrays (decoding yields Buffers). */
const plain = (x: unknown): unknown => {
  if (x instanceof Uint8Array) return [...x];
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([key, val]) => [key, plain(val)]));
  return x;
};

describe('table commands: round trip', () => {
  const cases: [string, TableCommand][] = [
    ['put', { op: 'put', key: k('a'), value: v({ n: 1, s: 'x', list: [1, 2] }) }],
    ['delete', { op: 'delete', key: k('a') }],
    ['cas from absent', { op: 'cas', key: k('a'), expected: null, value: v(1) }],
    ['cas to delete', { op: 'cas', key: k('a'), expected: v(1), value: null }],
    ['batch of every operation', {
      op: 'batch',
      ops: [
        { op: 'put', key: k('a'), value: v('x') },
        { op: 'delete', key: k('b') },
        { op: 'cas', key: k('c'), expected: v(2), value: v(3) },
        { op: 'check', key: k('d'), expected: null },
      ],
    }],
    ['a key with a zero byte and non-ASCII', { op: 'put', key: k('a\u0000ü😀'), value: v(true) }],
  ];
  for (const [name, command] of cases) {
    it(name, () => {
      assert.deepEqual(plain(decodeCommand(encodeCommand(command))), plain(command));
    });
  }

  it('encodes equal commands to equal bytes', () => {
    const make = (): TableCommand => ({ op: 'put', key: k('key'), value: v({ a: 1, b: [1, 'two'] }) });
    assert.deepEqual(encodeCommand(make()), encodeCommand(make()));
  });

  it('round-trips keys and values', () => {
    for (const key of ['a', 'ключ', 'x'.repeat(MAX_KEY_BYTES), '😀\u0000']) assert.equal(decodeKey(encodeKey(key)), key);
    for (const value of [0, -1.5, 'text', { nested: { list: [1, null, 'x'] } }, [1, 2, 3], true, new Uint8Array([1, 2])]) assert.deepEqual(plain(decodeValue(encodeValue(value))), plain(value));
    assert.equal(encodeExpected(null), null);
    assert.equal(encodeExpected(undefined), null);
  });
});

describe('table commands: malformed entries are data', () => {
  const bytes = new Uint8Array([1]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['not msgpack', new Uint8Array([0x92, 0x01]), /not msgpack/],
    ['not a list', pack({ op: 'put' }), /not a command list/],
    ['an unknown format', pack([99, 'p', bytes, bytes]), /unknown command format 99/],
    ['an unknown operation', pack([TABLE_COMMAND_FORMAT, 'x', bytes]), /unknown operation "x"/],
    ['a put without a value', pack([TABLE_COMMAND_FORMAT, 'p', bytes]), /a put needs/],
    ['a key that is a string', pack([TABLE_COMMAND_FORMAT, 'd', 'a']), /no key bytes/],
    ['an empty key', pack([TABLE_COMMAND_FORMAT, 'd', new Uint8Array(0)]), /no key bytes/],
    ['a cas with a number for expected', pack([TABLE_COMMAND_FORMAT, 'c', bytes, 1, bytes]), /a cas needs/],
    ['a check outside a batch', pack([TABLE_COMMAND_FORMAT, 'k', bytes, null]), /only valid inside a batch/],
    ['an empty batch', pack([TABLE_COMMAND_FORMAT, 'b', []]), /non-empty list/],
    ['a nested batch', pack([TABLE_COMMAND_FORMAT, 'b', [['b', []]]]), /in a batch: operation "b" has no key bytes/],
    ['a batch with a bad operation', pack([TABLE_COMMAND_FORMAT, 'b', [['p', bytes, bytes], ['p', bytes]]]), /in a batch: a put needs/],
  ];
  for (const [name, data, reason] of cases) {
    it(name, () => {
      const decoded = decodeCommand(data);
      assert.equal(decoded.op, 'malformed');
      assert.match((decoded as { reason: string }).reason, reason);
    });
  }
});

describe('table commands: limits at propose time', () => {
  const big = (n: number): Uint8Array => new Uint8Array(n);
  const cases: [string, () => unknown, (err: unknown) => boolean][] = [
    ['a key over MAX_KEY_BYTES', () => encodeKey('x'.repeat(MAX_KEY_BYTES + 1)),
      (e) => e instanceof KeyTooLargeError && e.limit === MAX_KEY_BYTES && e.actual === MAX_KEY_BYTES + 1 && /use a shorter key/.test(e.message)],
    ['a key over MAX_KEY_BYTES in UTF-8 though not in characters', () => encodeKey('é'.repeat(MAX_KEY_BYTES / 2 + 1)),
      (e) => e instanceof KeyTooLargeError && e.actual === MAX_KEY_BYTES + 2],
    ['an empty key', () => encodeKey(''), (e) => e instanceof BadRequestError && /must not be empty/.test(e.message)],
    ['a key with a lone surrogate', () => encodeKey('a\uD800'), (e) => e instanceof BadRequestError && /lone surrogate/.test(e.message)],
    ['a value over MAX_VALUE_BYTES', () => encodeValue('x'.repeat(MAX_VALUE_BYTES)),
      (e) => e instanceof ValueTooLargeError && e.code === 'ERR_LIMIT_EXCEEDED' && e.limit === MAX_VALUE_BYTES && /split it over several keys/.test(e.message)],
    ['a null value', () => encodeValue(null), (e) => e instanceof BadRequestError && /delete the key instead/.test(e.message)],
    ['an undefined value', () => encodeValue(undefined), (e) => e instanceof BadRequestError],
    ['raw value bytes over the limit', () => encodeCommand({ op: 'put', key: k('a'), value: big(MAX_VALUE_BYTES + 1) }), (e) => e instanceof ValueTooLargeError],
    ['a cas whose expected value is over the limit', () => encodeCommand({ op: 'cas', key: k('a'), expected: big(MAX_VALUE_BYTES + 1), value: null }), (e) => e instanceof ValueTooLargeError],
    ['too many batch operations', () => encodeCommand({ op: 'batch', ops: Array.from({ length: MAX_BATCH_OPS + 1 }, (_, i) => ({ op: 'delete' as const, key: k(`k${i}`) })) }),
      (e) => e instanceof BatchTooLargeError && e.unit === 'operations' && e.limit === MAX_BATCH_OPS && /split it into several batches/.test(e.message)],
    ['a batch over MAX_COMMAND_BYTES', () => encodeCommand({ op: 'batch', ops: Array.from({ length: 4 }, (_, i) => ({ op: 'put' as const, key: k(`k${i}`), value: big(MAX_VALUE_BYTES) })) }),
      (e) => e instanceof BatchTooLargeError && e.unit === 'bytes' && e.limit === MAX_COMMAND_BYTES && e.actual > MAX_COMMAND_BYTES],
    ['an empty batch', () => encodeCommand({ op: 'batch', ops: [] }), (e) => e instanceof BadRequestError],
  ];
  for (const [name, fn, check] of cases) {
    it(`refuses ${name}`, () => assert.throws(fn, check));
  }

  it('accepts what is exactly at the limits', () => {
    encodeKey('x'.repeat(MAX_KEY_BYTES));
    encodeCommand({ op: 'put', key: k('x'.repeat(MAX_KEY_BYTES)), value: big(MAX_VALUE_BYTES) });
    // The largest single command: a cas with the largest expected and new values.
    const cas = encodeCommand({ op: 'cas', key: k('x'.repeat(MAX_KEY_BYTES)), expected: big(MAX_VALUE_BYTES), value: big(MAX_VALUE_BYTES) });
    assert.ok(cas.byteLength <= MAX_COMMAND_BYTES);
    encodeCommand({ op: 'batch', ops: Array.from({ length: MAX_BATCH_OPS }, (_, i) => ({ op: 'delete' as const, key: k(`k${i}`) })) });
  });

  it('every limit error is a LimitExceededError that is not retryable', () => {
    for (const e of [new KeyTooLargeError(1, 2), new ValueTooLargeError(1, 2), new BatchTooLargeError('bytes', 1, 2)]) {
      assert.ok(e instanceof LimitExceededError);
      assert.equal(e.retryable, false);
      assert.equal(e.name, e.constructor.name);
    }
  });
});

describe('table commands: multi-command entries', () => {
  const commands: TableCommand[] = [
    { op: 'put', key: k('a'), value: v({ n: 1 }) },
    { op: 'delete', key: k('b') },
    { op: 'cas', key: k('c'), expected: null, value: v(3) },
    { op: 'batch', ops: [{ op: 'check', key: k('d'), expected: v(4) }, { op: 'put', key: k('e'), value: v(5) }] },
  ];
  const good = pack([TABLE_COMMAND_FORMAT, 'p', k('ok'), v(1)]);

  it('round-trips: the decoded commands equal the inner commands, in order', () => {
    const decoded = decodeCommand(encodeMulti(commands.map(encodeCommand)));
    assert.deepEqual(plain(decoded), plain({ op: 'multi', commands } satisfies MultiCommand));
    // Two commands, the least a multi carries.
    assert.deepEqual(plain(decodeCommand(encodeMulti(commands.slice(0, 2).map(encodeCommand)))), plain({ op: 'multi', commands: commands.slice(0, 2) }));
  });

  it('encodes equal lists of commands to equal bytes', () => {
    assert.deepEqual(encodeMulti(commands.map(encodeCommand)), encodeMulti(commands.map(encodeCommand)));
  });

  it('refuses fewer than two commands at propose time', () => {
    for (const few of [[], [encodeCommand(commands[0]!)]]) {
      assert.throws(() => encodeMulti(few), (e) => e instanceof BadRequestError && /at least two commands/.test(e.message));
    }
  });

  it('refuses a multi over MAX_COMMAND_BYTES at propose time', () => {
    const large = encodeCommand({ op: 'put', key: k('big'), value: new Uint8Array(MAX_VALUE_BYTES) });
    assert.throws(() => encodeMulti([large, large, large, large]),
      (e) => e instanceof BatchTooLargeError && e.unit === 'bytes' && e.limit === MAX_COMMAND_BYTES && e.actual > MAX_COMMAND_BYTES);
  });

  const inner = (data: Uint8Array): MultiCommand['commands'] => {
    const decoded = decodeCommand(data);
    assert.equal(decoded.op, 'multi');
    return (decoded as MultiCommand).commands;
  };

  it('a bad inner command decodes as malformed and the others decode fine', () => {
    const cases: [string, unknown, RegExp][] = [
      ['an inner item that is not bytes', 'a string', /is not bytes/],
      ['an inner list instead of bytes', [TABLE_COMMAND_FORMAT, 'p', k('x'), v(1)], /is not bytes/],
      ['a nested multi', encodeMulti([good, good]), /cannot nest/],
      ['an inner command that is not msgpack', new Uint8Array([0x92, 0x01]), /not msgpack/],
      ['an inner command of an unknown format', pack([99, 'p', k('x'), v(1)]), /unknown command format 99/],
      ['an inner put without a value', pack([TABLE_COMMAND_FORMAT, 'p', k('x')]), /a put needs/],
      ['an inner check outside a batch', pack([TABLE_COMMAND_FORMAT, 'k', k('x'), null]), /only valid inside a batch/],
    ];
    for (const [name, bad, reason] of cases) {
      const decoded = inner(pack([TABLE_COMMAND_FORMAT, 'm', [good, bad, good]]));
      assert.equal(decoded.length, 3, name);
      assert.equal(decoded[1]!.op, 'malformed', name);
      assert.match((decoded[1] as { reason: string }).reason, reason, name);
      for (const i of [0, 2]) assert.deepEqual(plain(decoded[i]), plain({ op: 'put', key: k('ok'), value: v(1) }), `${name}: command ${i}`);
    }
  });

  it('several bad inner commands are each malformed, in place', () => {
    const decoded = inner(pack([TABLE_COMMAND_FORMAT, 'm', [1, good, encodeMulti([good, good]), encodeCommand(commands[1]!)]]));
    assert.deepEqual(decoded.map((c) => c.op), ['malformed', 'put', 'malformed', 'delete']);
  });

  it('a multi without at least two inner items, or without a list, is malformed as a whole', () => {
    const cases: [string, Uint8Array, RegExp][] = [
      ['no inner items', pack([TABLE_COMMAND_FORMAT, 'm', []]), /at least two commands/],
      ['one inner item', pack([TABLE_COMMAND_FORMAT, 'm', [good]]), /at least two commands/],
      ['one bad inner item', pack([TABLE_COMMAND_FORMAT, 'm', ['x']]), /at least two commands/],
      ['no list', pack([TABLE_COMMAND_FORMAT, 'm', good]), /needs a list of commands/],
      ['nothing after the tag', pack([TABLE_COMMAND_FORMAT, 'm']), /needs a list of commands/],
      ['a trailing field', pack([TABLE_COMMAND_FORMAT, 'm', [good, good], 1]), /needs a list of commands/],
    ];
    for (const [name, data, reason] of cases) {
      const decoded = decodeCommand(data);
      assert.equal(decoded.op, 'malformed', name);
      assert.match((decoded as { reason: string }).reason, reason, name);
    }
  });
});
