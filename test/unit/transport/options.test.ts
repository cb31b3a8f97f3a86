import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { ConfigError } from '../../../lib/errors.js';
import { SeededRandom } from '../../../lib/protocol/random.js';
import { formatAddress, parseAddress, validateTransportOptions, type TransportOptions } from '../../../lib/transport/transport.js';

const valid: TransportOptions = {
  self: { name: 'a@host', generation: 1 },
  advertisedAddress: 'host:9100',
  bindHost: '0.0.0.0',
  port: 9100,
  clusterName: 'c',
  cookie: 'secret',
  random: new SeededRandom(1),
  log: pino({ level: 'silent' }),
};

describe('parseAddress / formatAddress', () => {
  const cases: Array<[string, { host: string; port: number } | null]> = [
    ['127.0.0.1:9100', { host: '127.0.0.1', port: 9100 }],
    ['node-1.svc:0', { host: 'node-1.svc', port: 0 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['host', null],
    [':9100', null],
    ['host:', null],
    ['host:65536', null],
    ['host:12a', null],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} → ${JSON.stringify(expected)}`, () => assert.deepEqual(parseAddress(text), expected));
  }

  it('brackets IPv6 hosts', () => {
    assert.equal(formatAddress('::1', 9100), '[::1]:9100');
    assert.equal(formatAddress('10.0.0.1', 9100), '10.0.0.1:9100');
  });
});

describe('validateTransportOptions', () => {
  it('accepts valid options', () => validateTransportOptions(valid));

  const invalid: Array<[setting: string, overrides: Partial<TransportOptions>]> = [
    ['self.name', { self: { name: '', generation: 1 } }],
    ['self.generation', { self: { name: 'a', generation: -1 } }],
    ['advertisedAddress', { advertisedAddress: 'no-port' }],
    ['port', { port: 70_000 }],
    ['cookie', { cookie: '' }],
    ['maxFrameBytes', { maxFrameBytes: 0 }],
    ['maxFrameBytes', { maxFrameBytes: 2 ** 33 }],
    ['maxQueuedFrames', { maxQueuedFrames: 0 }],
    ['handshakeTimeoutMs', { handshakeTimeoutMs: 0 }],
    ['giveUpAfterMs', { giveUpAfterMs: -1 }],
    ['backoff', { backoff: { baseMs: 100, maxMs: 10 } }],
  ];
  for (const [setting, overrides] of invalid) {
    it(`names ${setting} when it is invalid (${JSON.stringify(overrides)})`, () => {
      assert.throws(() => validateTransportOptions({ ...valid, ...overrides }), (err: unknown) => err instanceof ConfigError && err.setting === setting);
    });
  }
});
