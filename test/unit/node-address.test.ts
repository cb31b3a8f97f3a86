import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ConfigError } from '../../lib/errors.js';
import {
  formatAddress,
  formatLocator,
  nodeHost,
  parseAddress,
  parseNodeLocator,
  parseNodeName,
  parsePortRange,
  portsOf,
} from '../../lib/node-address.js';

describe('parseNodeName', () => {
  it('keeps name@host and completes a bare name with the default host', () => {
    assert.equal(parseNodeName('hex_hub1@127.0.0.1'), 'hex_hub1@127.0.0.1');
    assert.equal(parseNodeName('hex_hub1@hex_hub1'), 'hex_hub1@hex_hub1');
    assert.equal(parseNodeName('n1@[fd00::1]'), 'n1@[fd00::1]');
    assert.equal(parseNodeName('n1', 'NODE_NAME', 'box'), 'n1@box');
  });

  const bad: Array<[string, string]> = [
    ['an empty value', ''],
    ['a 2,000-character name', `${'n'.repeat(2000)}@127.0.0.1`],
    ['a name part of 65 characters', `${'n'.repeat(65)}@h`],
    ['a host of 254 characters', `n@${'a.'.repeat(126)}ab`],
    ['a host label of 64 characters', `n@${'a'.repeat(64)}.example`],
    ['spaces', 'my node@host'],
    ['a slash in the host', 'n@ho/st'],
    ['an empty host', 'n@'],
    ['an empty name', '@host'],
  ];
  for (const [what, value] of bad) {
    it(`refuses ${what}, stating the rule`, () => {
      assert.throws(() => parseNodeName(value), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.setting, 'NODE_NAME');
        assert.match(err.message, /name@host: a name of 1-64 letters/);
        assert.ok(err.message.length < 600, 'a long value is abbreviated in the message');
        return true;
      });
    });
  }
});

describe('parseNodeLocator', () => {
  it('reads name@host, name@host:port, host:port and IPv6 in brackets', () => {
    assert.deepEqual(parseNodeLocator('hex_hub1@127.0.0.1'), { name: 'hex_hub1', host: '127.0.0.1', port: undefined });
    assert.deepEqual(parseNodeLocator('n2@10.0.0.2:9200'), { name: 'n2', host: '10.0.0.2', port: 9200 });
    assert.deepEqual(parseNodeLocator('n2@[::1]:9200'), { name: 'n2', host: '::1', port: 9200 });
    assert.deepEqual(parseNodeLocator('db.example:9100'), { name: undefined, host: 'db.example', port: 9100 });
    assert.deepEqual(parseNodeLocator('db.example'), { name: undefined, host: 'db.example', port: undefined });
  });

  it('formats back what it parsed', () => {
    for (const text of ['hex_hub1@127.0.0.1', 'n2@10.0.0.2:9200', 'n2@[::1]:9200', 'n@[::1]', 'host:1', 'host']) assert.equal(formatLocator(parseNodeLocator(text)), text);
  });

  for (const value of ['n@host:0', 'n@host:70000', 'n@', 'a b@host', 'n@host:port', 'n@[zz::1]']) {
    it(`refuses ${JSON.stringify(value)} naming the setting`, () => {
      assert.throws(() => parseNodeLocator(value, 'node'), (err: unknown) => err instanceof ConfigError && err.setting === 'node');
    });
  }
});

describe('addresses', () => {
  it('formats and parses host:port, IPv6 bracketed', () => {
    assert.equal(formatAddress('::1', 9100), '[::1]:9100');
    assert.equal(formatAddress('10.0.0.1', 9100), '10.0.0.1:9100');
    assert.deepEqual(parseAddress('[::1]:9100'), { host: '::1', port: 9100 });
    assert.equal(parseAddress('host'), null);
    assert.equal(parseAddress('host:99999'), null);
    assert.equal(nodeHost('n@[fd00::1]'), 'fd00::1');
  });
});

describe('parsePortRange', () => {
  it('reads first-last and a single port', () => {
    assert.deepEqual(parsePortRange('9100-9155'), { first: 9100, last: 9155 });
    assert.deepEqual(parsePortRange(' 9200 '), { first: 9200, last: 9200 });
    assert.equal(portsOf({ first: 9100, last: 9155 }).length, 56);
  });

  for (const value of ['9155-9100', '0-10', '9100-70000', 'a-b', '1-2000']) {
    it(`refuses ${value}`, () => assert.throws(() => parsePortRange(value), ConfigError));
  }
});
