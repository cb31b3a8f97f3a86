import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cookieWeakness, defaultConfig, loadConfig, MIN_COOKIE_LENGTH, redactConfig, type LoadOptions } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-config-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A working directory holding `config/clustering.json` with `content`. */
function cwdWithFile(name: string, content: unknown): string {
  const cwd = join(dir, name);
  mkdirSync(join(cwd, 'config'), { recursive: true });
  writeFileSync(join(cwd, 'config', 'clustering.json'), typeof content === 'string' ? content : JSON.stringify(content));
  return cwd;
}

function load(options: LoadOptions) {
  return loadConfig({ cwd: dir, ...options, env: options.env ?? {} });
}

function assertConfigError(options: LoadOptions, setting: string | RegExp, message?: RegExp): void {
  assert.throws(
    () => load(options),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.equal(err.name, 'ConfigError');
      assert.equal(err.code, 'ERR_CONFIG');
      if (typeof setting === 'string') assert.equal(err.setting, setting);
      else assert.match(err.setting, setting);
      assert.ok(err.message.includes(err.setting), `the message names the setting: ${err.message}`);
      if (message) assert.match(err.message, message);
      return true;
    },
  );
}

describe('loadConfig precedence: env > flag > file > defaults', () => {
  it('defaults when nothing is set', () => {
    const config = load({ env: { NODE_NAME: 'n1@h' } });
    const defaults = defaultConfig();
    assert.equal(config.port, defaults.port);
    assert.equal(config.clusterPort, defaults.clusterPort);
    assert.deepEqual(config.discoveryTypes, ['epmd']);
    assert.equal(config.dataDir, join(dir, 'data', 'n1@h'));
  });

  it('each layer overrides the one below', () => {
    const cwd = cwdWithFile('layers', { port: 1111, clusterPort: 1112, replicationFactor: 3, clusterName: 'file' });
    const config = loadConfig({
      cwd,
      env: { PORT: '3333' },
      flags: { '--port': '2222', '--cluster-port': '2223' },
    });
    assert.equal(config.port, 3333); // env over flag and file
    assert.equal(config.clusterPort, 2223); // flag over file
    assert.equal(config.replicationFactor, 3); // file over default
    assert.equal(config.clusterName, 'file');
    assert.equal(config.heartbeatIntervalMs, 5000); // default
  });

  it('an explicit --config file replaces the default file', () => {
    const cwd = cwdWithFile('explicit', { port: 1111 });
    writeFileSync(join(cwd, 'other.json'), JSON.stringify({ port: 5555 }));
    assert.equal(loadConfig({ cwd, env: {}, configFile: 'other.json' }).port, 5555);
  });

  it('an empty environment variable counts as unset', () => {
    assert.equal(load({ env: { PORT: '' }, flags: { '--port': '4100' } }).port, 4100);
  });

  it('MNESIA_DIR is accepted for DATA_DIR, and DATA_DIR wins', () => {
    assert.equal(load({ env: { MNESIA_DIR: '/var/lib/mnesia' } }).dataDir, '/var/lib/mnesia');
    assert.equal(load({ env: { MNESIA_DIR: '/var/lib/mnesia', DATA_DIR: '/var/lib/troupe' } }).dataDir, '/var/lib/troupe');
    assert.equal(load({ env: { DATA_DIR: 'rel' } }).dataDir, join(dir, 'rel'));
  });

  it('multicast is an alias of epmd; lists combine modes', () => {
    assert.deepEqual(load({ env: { CLUSTER_DISCOVERY_TYPE: 'multicast' } }).discoveryTypes, ['epmd']);
    assert.deepEqual(load({ env: { CLUSTER_DISCOVERY_TYPE: 'static, multicast,epmd' } }).discoveryTypes, ['static', 'epmd']);
  });

  it('a bare NODE_NAME gets a host', () => {
    assert.match(load({ env: { NODE_NAME: 'n1' } }).nodeName, /^n1@.+/);
  });

  it('seeds come from a comma list or a file array', () => {
    assert.deepEqual(load({ env: { CLUSTER_NODES: 'a@h1, b@h2:9200' } }).clusterNodes, ['a@h1', 'b@h2:9200']);
    const cwd = cwdWithFile('seeds', { clusterNodes: ['c@h3'] });
    assert.deepEqual(loadConfig({ cwd, env: {} }).clusterNodes, ['c@h3']);
  });
});

describe('config/clustering.json', () => {
  it('loads without error and gives the defaults', () => {
    const file = fileURLToPath(new URL('../../../config/clustering.json', import.meta.url));
    assert.deepEqual(loadConfig({ env: {}, configFile: file, cwd: dir }), loadConfig({ env: {}, noFile: true, cwd: dir }));
  });
});

describe('validation names the setting', () => {
  const cases: Array<[string, LoadOptions, string | RegExp, RegExp?]> = [
    ['PORT out of range', { env: { PORT: '70000' } }, 'PORT', /0 to 65535/],
    ['PORT not a number', { env: { PORT: '80a' } }, 'PORT'],
    ['--cluster-port out of range', { flags: { '--cluster-port': '-1' } }, '--cluster-port'],
    ['malformed seed', { env: { CLUSTER_NODES: 'n2@host:99999' } }, 'CLUSTER_NODES', /port must be from 1 to 65535/],
    ['seed with a bad name', { env: { CLUSTER_NODES: 'n 2@host' } }, 'CLUSTER_NODES'],
    ['RAFT_ELECTION_TIMEOUT below twice the Raft heartbeat', { env: { RAFT_ELECTION_TIMEOUT: '150', RAFT_HEARTBEAT_INTERVAL: '100' } }, 'RAFT_ELECTION_TIMEOUT', /at least twice RAFT_HEARTBEAT_INTERVAL \(100\)/],
    ['RAFT_HEARTBEAT_INTERVAL not a number', { env: { RAFT_HEARTBEAT_INTERVAL: 'fast' } }, 'RAFT_HEARTBEAT_INTERVAL'],
    ['HEARTBEAT_TIMEOUT equal to the interval', { env: { HEARTBEAT_INTERVAL: '1000', HEARTBEAT_TIMEOUT: '1000' } }, 'HEARTBEAT_TIMEOUT', /greater than HEARTBEAT_INTERVAL/],
    ['HEARTBEAT_TIMEOUT below the default interval', { env: { HEARTBEAT_TIMEOUT: '4000' } }, 'HEARTBEAT_TIMEOUT', /HEARTBEAT_INTERVAL \(5000\)/],
    ['unknown discovery type', { env: { CLUSTER_DISCOVERY_TYPE: 'gossip' } }, 'CLUSTER_DISCOVERY_TYPE', /epmd \(alias multicast\), dns or static/],
    ['empty discovery list', { env: { CLUSTER_DISCOVERY_TYPE: ' , ' } }, 'CLUSTER_DISCOVERY_TYPE'],
    ['dns without a hostname', { env: { CLUSTER_DISCOVERY_TYPE: 'dns' } }, 'CLUSTER_DNS_HOSTNAME', /must be set/],
    ['partial TLS', { env: { CLUSTER_TLS_CERT: '/etc/troupe/cert.pem' } }, /CLUSTER_TLS_CERT\/CLUSTER_TLS_KEY\/CLUSTER_TLS_CA/, /all three/],
    ['TLS files that do not exist', { env: { CLUSTER_TLS_CERT: '/nope/c', CLUSTER_TLS_KEY: '/nope/k', CLUSTER_TLS_CA: '/nope/ca' } }, 'CLUSTER_TLS_CERT', /does not exist/],
    ['malformed NODE_NAME', { env: { NODE_NAME: 'bad name@host' } }, 'NODE_NAME'],
    ['CLUSTERING_ENABLED not a boolean', { env: { CLUSTERING_ENABLED: 'maybe' } }, 'CLUSTERING_ENABLED'],
    ['REPLICATION_FACTOR zero', { env: { REPLICATION_FACTOR: '0' } }, 'REPLICATION_FACTOR'],
    ['bad CLUSTER_NAME', { env: { CLUSTER_NAME: 'has space' } }, 'CLUSTER_NAME'],
    ['bad LOG_LEVEL', { env: { LOG_LEVEL: 'loud' } }, 'LOG_LEVEL'],
    ['missing --config file', { configFile: 'missing.json' }, '--config', /does not exist/],
  ];
  for (const [what, options, setting, message] of cases) it(what, () => assertConfigError(options, setting, message));

  it('a file with an unknown key names the file and key', () => {
    const cwd = cwdWithFile('unknown-key', { prot: 4000 });
    assertConfigError({ cwd }, /clustering\.json: prot$/, /unknown setting/);
  });

  it('an unknown key does not echo its value: it may be a misspelt secret', () => {
    const cwd = cwdWithFile('misspelt-secret', { cookies: 'hunter2' });
    assert.throws(() => load({ cwd }), (err: unknown) => err instanceof ConfigError && /cookies/.test(err.message) && !/hunter2/.test(err.message));
  });

  it('a file that is not JSON', () => {
    const cwd = cwdWithFile('not-json', '{ port: 4000 ');
    assertConfigError({ cwd }, '--config', /must be a JSON object/);
  });

  it('a bad value in the file names the file and key', () => {
    const cwd = cwdWithFile('bad-value', { port: 'http' });
    assertConfigError({ cwd }, /clustering\.json: port$/);
  });
});

describe('CLUSTER_DNS_SERVER', () => {
  it('accepts every form dns discovery reads: a bare IPv6 address, a bracketed one with a zone, host[:port]', () => {
    const servers = ['fd00::1', '[fe80::1%eth0]', '[fd00::53]:5353', '10.96.0.10', '127.0.0.1:5353', 'dns.local:53'];
    assert.deepEqual(load({ env: { CLUSTER_DNS_SERVER: servers.join(',') } }).dnsServers, servers);
  });

  const bad: Array<[string, string]> = [
    ['a port out of range', '10.0.0.2:99999'],
    ['a space inside', 'bad host'],
    ['an IPv4 address in brackets', '[10.0.0.1]:53'],
    ['an IPv6 address without brackets and with a port', 'fd00::1]:53'],
  ];
  for (const [what, value] of bad) {
    it(`rejects ${what}`, () => assertConfigError({ env: { CLUSTER_DNS_SERVER: `10.0.0.1,${value}` } }, 'CLUSTER_DNS_SERVER', /host\[:port\]/));
  }
});

describe('redactConfig', () => {
  it('masks the cookie and the API token, and nothing else', () => {
    const config = load({ env: { COOKIE: 'c00kie', CLUSTER_API_TOKEN: 't0ken', NODE_NAME: 'n1@h' } });
    const redacted = redactConfig(config);
    assert.equal(redacted.cookie, '***');
    assert.equal(redacted.apiToken, '***');
    assert.equal(redacted.nodeName, 'n1@h');
    assert.doesNotMatch(JSON.stringify(redacted), /c00kie|t0ken/);
    assert.equal(config.cookie, 'c00kie', 'the config itself is untouched');
  });

  it('leaves unset secrets unset', () => {
    const redacted = redactConfig(load({}));
    assert.equal(redacted.cookie, undefined);
    assert.equal(redacted.apiToken, undefined);
  });
});

describe('secrets are never echoed', () => {
  const rejected: Array<[string, LoadOptions, RegExp]> = [
    ['a number as the cookie in the file', { cwd: cwdWithFile('secret-cookie', { cookie: 98765432123 }) }, /cookie/],
    ['a number as the API token in the file', { cwd: cwdWithFile('secret-token', { apiToken: 12345678987 }) }, /apiToken/],
    ['a cookie of blanks in the environment', { env: { COOKIE: '   ' } }, /COOKIE/],
  ];
  for (const [what, options, setting] of rejected) {
    it(`${what}: the error names the setting, not the value`, () => {
      assert.throws(
        () => loadConfig({ cwd: dir, env: {}, ...options }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.setting, setting);
          assert.doesNotMatch(err.message, /98765432123|12345678987/);
          assert.doesNotMatch(JSON.stringify({ value: err.value, message: err.message }), /98765432123|12345678987|"   "/);
          assert.match(err.message, /secret/);
          return true;
        },
      );
    });
  }

  it('COOKIE set to the empty string is an error, not the development cookie', () => {
    assertConfigError({ env: { COOKIE: '' } }, 'COOKIE', /set COOKIE to the cluster's secret or unset it/);
  });

  it('CLUSTER_API_TOKEN set to the empty string is an error, not "no token"', () => {
    assertConfigError({ env: { CLUSTER_API_TOKEN: '' } }, 'CLUSTER_API_TOKEN', /unset it/);
  });

  it('an empty non-secret variable still means unset', () => {
    assert.equal(load({ env: { CLUSTER_NAME: '' } }).clusterName, defaultConfig().clusterName);
  });
});

describe('cookieWeakness', () => {
  const cases: Array<[string | undefined, RegExp | null]> = [
    [undefined, null],
    ['pw123', /16 characters/],
    ['x'.repeat(MIN_COOKIE_LENGTH - 1), /16 characters/],
    ['x'.repeat(MIN_COOKIE_LENGTH), null],
  ];
  for (const [cookie, expected] of cases) {
    it(`${cookie === undefined ? 'unset' : `${cookie.length} characters`}: ${expected === null ? 'no warning' : 'a warning'}`, () => {
      const warning = cookieWeakness(cookie);
      if (expected === null) assert.equal(warning, null);
      else assert.match(warning ?? '', expected);
      assert.doesNotMatch(warning ?? '', /pw123|xxxx/, 'the warning never quotes the cookie');
    });
  }
});
