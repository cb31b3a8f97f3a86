/**
 * Configuration of a troupe node: one schema, one set of defaults, one loader.
 *
 * Precedence, highest first: environment variables > CLI flags > the config
 * file (`--config FILE`, else `config/clustering.json` when present) >
 * `defaultConfig()`. Every value is validated once at start-up; a bad value
 * stops the node with a `ConfigError` naming the setting (as its environment
 * variable), the value and the rule. `config/README.md` documents the same
 * fields and is checked against `SETTINGS` by a test.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDnsServer } from './dns-server-address.js';
import { ConfigError } from './errors.js';
import { DEFAULT_CLUSTER_PORT_RANGE, parseNodeLocator, parseNodeName, parsePortRange, type PortRange } from './node-address.js';

export type DiscoveryType = 'epmd' | 'dns' | 'static';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface TroupeConfig {
  /** Off: the node runs as a standalone one-node cluster and dials nobody. @default false (CLUSTERING_ENABLED) */
  clusteringEnabled: boolean;
  /** `name@host`, unique in the cluster and stable across restarts; `host` is what peers dial. @default `troupe@<hostname>` (NODE_NAME) */
  nodeName: string;
  /** HTTP port of the facade; 0 picks a free port (reported in `<dataDir>/ports.json`). @default 4000 (PORT) */
  port: number;
  /**
   * Inter-node TCP port; 0 picks any free port. Unset, the node takes the first free port of
   * `clusterPortRange`, so several nodes on one host need no setting, and peers find a node's port
   * from its name (`name@host`) by asking the range. @default undefined (CLUSTER_PORT)
   */
  clusterPort: number | undefined;
  /**
   * Ports a node without CLUSTER_PORT listens on (the first free one), and the ports asked when a
   * `name@host` without a port is resolved. Must be the same on every node of a cluster; open it in
   * firewalls between nodes. @default 9100-9155 (CLUSTER_PORT_RANGE)
   */
  clusterPortRange: PortRange;
  /** Address the HTTP facade binds. @default '0.0.0.0' (HTTP_BIND) */
  httpBind: string;
  /** Address the inter-node listener binds. @default '0.0.0.0' (CLUSTER_BIND) */
  clusterBind: string;
  /** Seeds, `name@host[:port]` (port defaults to CLUSTER_PORT). @default [] (CLUSTER_NODES) */
  clusterNodes: string[];
  /** Discovery modes whose candidates are combined. @default ['epmd'] (CLUSTER_DISCOVERY_TYPE; `multicast` = `epmd`) */
  discoveryTypes: DiscoveryType[];
  /** SRV (or A/AAAA) name polled by dns discovery. @default undefined (CLUSTER_DNS_HOSTNAME) */
  dnsHostname: string | undefined;
  /** DNS servers `host[:port]`; empty means those of /etc/resolv.conf. @default [] (CLUSTER_DNS_SERVER) */
  dnsServers: string[];
  /** Milliseconds between DNS polls. Shorter finds new nodes sooner and costs more queries. @default 5000 (CLUSTER_DNS_POLL_INTERVAL) */
  dnsPollIntervalMs: number;
  /** Network interface (address) multicast discovery uses; unset lets the OS choose. @default undefined (CLUSTER_MULTICAST_INTERFACE) */
  multicastInterface: string | undefined;
  /** Default replicas per partition of a new table. @default 2 (REPLICATION_FACTOR) */
  replicationFactor: number;
  /** Directory of this node's LMDB files. @default `./data/<node name>` (DATA_DIR, MNESIA_DIR accepted) */
  dataDir: string;
  /**
   * Milliseconds between failure-detector probes (one SWIM protocol period).
   * Shorter detects failures sooner at the cost of more traffic. @default 5000 (HEARTBEAT_INTERVAL)
   */
  heartbeatIntervalMs: number;
  /**
   * Milliseconds a node may stay unresponsive (suspected) before it is declared down.
   * Must exceed HEARTBEAT_INTERVAL. A node whose event loop is blocked for up to half of
   * this is never declared down. @default 10000 (HEARTBEAT_TIMEOUT)
   */
  heartbeatTimeoutMs: number;
  /**
   * Lower bound of a Raft group's randomized election timeout, ms (the upper bound is twice it): how long
   * followers of an awake group wait without a leader before electing one, and how soon a leader that lost
   * its majority steps down. Shorter fails over sooner and risks elections during event-loop stalls.
   * Must be at least 2 × RAFT_HEARTBEAT_INTERVAL. @default 1000 (RAFT_ELECTION_TIMEOUT)
   */
  raftElectionTimeoutMs: number;
  /**
   * Period of a Raft leader's heartbeats, ms (coalesced per node pair; idle groups send none). A
   * linearizable read waits about one of these. @default 100 (RAFT_HEARTBEAT_INTERVAL)
   */
  raftHeartbeatIntervalMs: number;
  /**
   * Shared secret; peers prove knowledge of it by HMAC, it never crosses the wire. A node that dials an
   * impostor reveals a proof it can attack offline, so use a long random cookie (MIN_COOKIE_LENGTH).
   * Set but empty is an error. @default undefined: a fixed development cookie, with a warning (COOKIE)
   */
  cookie: string | undefined;
  /** Separates clusters on one network: peers with another name are refused. @default 'troupe' (CLUSTER_NAME) */
  clusterName: string;
  /** Bearer token required by mutating HTTP calls; unset: they are accepted from loopback callers only. @default undefined (CLUSTER_API_TOKEN) */
  apiToken: string | undefined;
  /** Mutual TLS for inter-node links; all three files or none. @default undefined (CLUSTER_TLS_CERT, CLUSTER_TLS_KEY, CLUSTER_TLS_CA) */
  tls: TlsFiles | undefined;
  /** Largest inter-node frame in bytes; larger frames close the link. @default 8 MiB (CLUSTER_MAX_FRAME_BYTES) */
  maxFrameBytes: number;
  /** pino level. @default 'info' (LOG_LEVEL) */
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
}

/** A fresh default configuration; each value says why. */
export function defaultConfig(host: string = hostname()): TroupeConfig {
  return {
    clusteringEnabled: false, // a node alone is the safe default: nothing dials out unasked
    nodeName: `troupe@${host}`,
    port: 4000,
    clusterPort: undefined, // the first free port of clusterPortRange: one host runs several nodes with no setting
    clusterPortRange: { ...DEFAULT_CLUSTER_PORT_RANGE },
    httpBind: '0.0.0.0', // probes and operators reach it from outside the host
    clusterBind: '0.0.0.0',
    clusterNodes: [],
    discoveryTypes: ['epmd'], // Mnesia/libcluster convention: find peers on the LAN with no list
    dnsHostname: undefined,
    dnsServers: [],
    dnsPollIntervalMs: 5000, // a Kubernetes pod is usually Ready within seconds; 5 s keeps DNS load low
    multicastInterface: undefined,
    replicationFactor: 2, // the convention of ../shared/DESIGN.md; under Raft two replicas both take part in every write: use 3 to survive a node loss
    dataDir: '', // filled from the node name by resolveConfig
    heartbeatIntervalMs: 5000,
    heartbeatTimeoutMs: 10000, // two periods: rides out a GC pause or a busy event loop of 5 s
    raftElectionTimeoutMs: 1000, // ten heartbeats: a lost heartbeat or two never starts an election
    raftHeartbeatIntervalMs: 100, // ReadIndex latency is about one of these
    cookie: undefined,
    clusterName: 'troupe',
    apiToken: undefined,
    tls: undefined,
    maxFrameBytes: 8 * 1024 * 1024, // big enough for a Raft snapshot chunk, small enough to bound memory per link
    logLevel: 'info',
  };
}

/** Fast timers for tests and local clusters (like memberlist's DefaultLocalConfig). */
export function localTestConfig(): Partial<TroupeConfig> {
  return { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2000, clusteringEnabled: true, discoveryTypes: ['static'] };
}

/** One setting: its environment variable, CLI flag (if any) and config-file key. */
export interface Setting {
  env: string;
  flag?: string;
  key: keyof TroupeConfig | 'tlsCert' | 'tlsKey' | 'tlsCa';
  secret?: boolean;
}

export const SETTINGS: readonly Setting[] = [
  { env: 'CLUSTERING_ENABLED', key: 'clusteringEnabled' },
  { env: 'NODE_NAME', flag: '--node-name', key: 'nodeName' },
  { env: 'PORT', flag: '--port', key: 'port' },
  { env: 'CLUSTER_PORT', flag: '--cluster-port', key: 'clusterPort' },
  { env: 'CLUSTER_PORT_RANGE', key: 'clusterPortRange' },
  { env: 'HTTP_BIND', key: 'httpBind' },
  { env: 'CLUSTER_BIND', key: 'clusterBind' },
  { env: 'CLUSTER_NODES', flag: '--nodes', key: 'clusterNodes' },
  { env: 'CLUSTER_DISCOVERY_TYPE', flag: '--discovery', key: 'discoveryTypes' },
  { env: 'CLUSTER_DNS_HOSTNAME', key: 'dnsHostname' },
  { env: 'CLUSTER_DNS_SERVER', key: 'dnsServers' },
  { env: 'CLUSTER_DNS_POLL_INTERVAL', key: 'dnsPollIntervalMs' },
  { env: 'CLUSTER_MULTICAST_INTERFACE', key: 'multicastInterface' },
  { env: 'REPLICATION_FACTOR', key: 'replicationFactor' },
  { env: 'DATA_DIR', flag: '--data-dir', key: 'dataDir' },
  { env: 'MNESIA_DIR', key: 'dataDir' },
  { env: 'HEARTBEAT_INTERVAL', key: 'heartbeatIntervalMs' },
  { env: 'HEARTBEAT_TIMEOUT', key: 'heartbeatTimeoutMs' },
  { env: 'RAFT_ELECTION_TIMEOUT', key: 'raftElectionTimeoutMs' },
  { env: 'RAFT_HEARTBEAT_INTERVAL', key: 'raftHeartbeatIntervalMs' },
  { env: 'COOKIE', key: 'cookie', secret: true },
  { env: 'CLUSTER_NAME', key: 'clusterName' },
  { env: 'CLUSTER_API_TOKEN', key: 'apiToken', secret: true },
  { env: 'CLUSTER_TLS_CERT', key: 'tlsCert' },
  { env: 'CLUSTER_TLS_KEY', key: 'tlsKey' },
  { env: 'CLUSTER_TLS_CA', key: 'tlsCa' },
  { env: 'CLUSTER_MAX_FRAME_BYTES', key: 'maxFrameBytes' },
  { env: 'LOG_LEVEL', key: 'logLevel' },
];

/** The default config file, relative to the working directory. */
export const DEFAULT_CONFIG_FILE = 'config/clustering.json';

export interface LoadOptions {
  env?: Record<string, string | undefined>;
  /** Parsed CLI flags keyed by flag name without dashes' meaning, e.g. `{ '--port': '4001' }`. */
  flags?: Record<string, string>;
  /** Explicit file; when unset, DEFAULT_CONFIG_FILE is used if it exists. */
  configFile?: string;
  /** Read no config file at all (library use: the caller passes everything). */
  noFile?: boolean;
  /** Programmatic overrides (library use), applied above the file and below flags. */
  overrides?: Partial<TroupeConfig>;
  cwd?: string;
}

type RawValue = string | number | boolean | string[] | undefined | null | Record<string, unknown>;
type RawLayer = Map<Setting['key'], { source: string; value: RawValue }>;

/** Builds the effective configuration from all layers, or throws ConfigError. */
export function loadConfig(options: LoadOptions = {}): TroupeConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const layers: RawLayer[] = [fileLayer(options, cwd), overridesLayer(options.overrides), flagLayer(options.flags ?? {}), envLayer(env)];
  const merged: RawLayer = new Map();
  for (const layer of layers) for (const [key, entry] of layer) merged.set(key, entry);
  return resolveConfig(merged, cwd);
}

function fileLayer(options: LoadOptions, cwd: string): RawLayer {
  const layer: RawLayer = new Map();
  if (options.noFile) return layer;
  const explicit = options.configFile !== undefined;
  const path = resolve(cwd, options.configFile ?? DEFAULT_CONFIG_FILE);
  if (!existsSync(path)) {
    if (explicit) throw new ConfigError('--config', options.configFile, 'file does not exist');
    return layer;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError('--config', path, `must be a JSON object (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('--config', path, 'must be a JSON object');
  const known = new Set(SETTINGS.map((s) => s.key as string));
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (key.startsWith('$') || key === 'comment') continue;
    // The value is not shown: an unknown key may be a misspelt secret ("cookies").
    if (!known.has(key)) throw new ConfigError(`${path}: ${key}`, value, `unknown setting; known: ${[...known].join(', ')}`, { secret: true });
    layer.set(key as Setting['key'], { source: `${path}: ${key}`, value: value as RawValue });
  }
  return layer;
}

function overridesLayer(overrides: Partial<TroupeConfig> | undefined): RawLayer {
  const layer: RawLayer = new Map();
  if (!overrides) return layer;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (key === 'tls') {
      const tls = value as TlsFiles;
      layer.set('tlsCert', { source: 'tls.certFile', value: tls.certFile });
      layer.set('tlsKey', { source: 'tls.keyFile', value: tls.keyFile });
      layer.set('tlsCa', { source: 'tls.caFile', value: tls.caFile });
      continue;
    }
    layer.set(key as Setting['key'], { source: key, value: value as RawValue });
  }
  return layer;
}

function flagLayer(flags: Record<string, string>): RawLayer {
  const layer: RawLayer = new Map();
  for (const setting of SETTINGS) {
    if (setting.flag && flags[setting.flag] !== undefined) layer.set(setting.key, { source: setting.flag, value: flags[setting.flag] });
  }
  return layer;
}

function envLayer(env: Record<string, string | undefined>): RawLayer {
  const layer: RawLayer = new Map();
  for (const setting of SETTINGS) {
    const value = env[setting.env];
    // An empty secret is a mistake (an unfilled template), never a request for the fallback.
    if (value === '' && setting.secret) throw new ConfigError(setting.env, value, `is set but empty: set ${setting.env} to the cluster's secret or unset it`, { secret: true });
    if (value === undefined || value === '') continue;
    // DATA_DIR wins over its alias MNESIA_DIR.
    if (setting.env === 'MNESIA_DIR' && env.DATA_DIR) continue;
    layer.set(setting.key, { source: setting.env, value });
  }
  return layer;
}

function resolveConfig(raw: RawLayer, cwd: string): TroupeConfig {
  const config = defaultConfig();
  const get = (key: Setting['key']) => raw.get(key);
  const source = (key: Setting['key']) => get(key)?.source ?? envName(key);

  applyIf(get('clusteringEnabled'), (v, s) => (config.clusteringEnabled = parseBool(v, s)));
  applyIf(get('nodeName'), (v, s) => (config.nodeName = parseNodeName(v, s)));
  applyIf(get('port'), (v, s) => (config.port = parsePort(v, s)));
  applyIf(get('clusterPort'), (v, s) => (config.clusterPort = parsePort(v, s)));
  applyIf(get('clusterPortRange'), (v, s) => (config.clusterPortRange = parsePortRangeValue(v, s)));
  applyIf(get('httpBind'), (v, s) => (config.httpBind = parseString(v, s)));
  applyIf(get('clusterBind'), (v, s) => (config.clusterBind = parseString(v, s)));
  applyIf(get('clusterNodes'), (v, s) => (config.clusterNodes = parseList(v, s)));
  applyIf(get('discoveryTypes'), (v, s) => (config.discoveryTypes = parseDiscoveryTypes(v, s)));
  applyIf(get('dnsHostname'), (v, s) => (config.dnsHostname = parseString(v, s)));
  applyIf(get('dnsServers'), (v, s) => (config.dnsServers = parseList(v, s).map((server) => parseDnsServerEntry(server, s))));
  applyIf(get('dnsPollIntervalMs'), (v, s) => (config.dnsPollIntervalMs = parseInteger(v, s, 100, 3_600_000)));
  applyIf(get('multicastInterface'), (v, s) => (config.multicastInterface = parseString(v, s)));
  applyIf(get('replicationFactor'), (v, s) => (config.replicationFactor = parseInteger(v, s, 1, 99)));
  applyIf(get('dataDir'), (v, s) => (config.dataDir = parseString(v, s)));
  applyIf(get('heartbeatIntervalMs'), (v, s) => (config.heartbeatIntervalMs = parseInteger(v, s, 10, 600_000)));
  applyIf(get('heartbeatTimeoutMs'), (v, s) => (config.heartbeatTimeoutMs = parseInteger(v, s, 20, 3_600_000)));
  applyIf(get('raftElectionTimeoutMs'), (v, s) => (config.raftElectionTimeoutMs = parseInteger(v, s, 20, 600_000)));
  applyIf(get('raftHeartbeatIntervalMs'), (v, s) => (config.raftHeartbeatIntervalMs = parseInteger(v, s, 5, 60_000)));
  applyIf(get('cookie'), (v, s) => (config.cookie = parseSecret(v, s)));
  applyIf(get('clusterName'), (v, s) => (config.clusterName = parseClusterName(v, s)));
  applyIf(get('apiToken'), (v, s) => (config.apiToken = parseSecret(v, s)));
  applyIf(get('maxFrameBytes'), (v, s) => (config.maxFrameBytes = parseInteger(v, s, 1024, 1024 * 1024 * 1024)));
  applyIf(get('logLevel'), (v, s) => (config.logLevel = parseEnum(v, s, ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const)));
  config.tls = resolveTls(raw);

  for (const seed of config.clusterNodes) parseNodeLocator(seed, source('clusterNodes'));
  if (config.heartbeatTimeoutMs <= config.heartbeatIntervalMs) {
    throw new ConfigError(source('heartbeatTimeoutMs'), config.heartbeatTimeoutMs, `must be greater than HEARTBEAT_INTERVAL (${config.heartbeatIntervalMs})`);
  }
  if (config.raftElectionTimeoutMs < 2 * config.raftHeartbeatIntervalMs) {
    throw new ConfigError(source('raftElectionTimeoutMs'), config.raftElectionTimeoutMs, `must be at least twice RAFT_HEARTBEAT_INTERVAL (${config.raftHeartbeatIntervalMs})`);
  }
  if (config.discoveryTypes.includes('dns') && !config.dnsHostname) {
    throw new ConfigError('CLUSTER_DNS_HOSTNAME', undefined, 'must be set when CLUSTER_DISCOVERY_TYPE includes dns');
  }
  config.dataDir = resolve(cwd, config.dataDir || join('data', config.nodeName));
  return config;
}

function envName(key: Setting['key']): string {
  return SETTINGS.find((s) => s.key === key)?.env ?? key;
}

function applyIf(entry: { source: string; value: RawValue } | undefined, apply: (value: RawValue, source: string) => void): void {
  if (entry !== undefined && entry.value !== undefined && entry.value !== null) apply(entry.value, entry.source);
}

function resolveTls(raw: RawLayer): TlsFiles | undefined {
  const cert = raw.get('tlsCert');
  const key = raw.get('tlsKey');
  const ca = raw.get('tlsCa');
  const given = [cert, key, ca].filter((e) => e !== undefined && e.value !== undefined && e.value !== '');
  if (given.length === 0) return undefined;
  if (given.length !== 3) throw new ConfigError('CLUSTER_TLS_CERT/CLUSTER_TLS_KEY/CLUSTER_TLS_CA', `${given.length} of 3 set`, 'set all three files for mutual TLS, or none');
  const files = { certFile: parseString(cert!.value, cert!.source), keyFile: parseString(key!.value, key!.source), caFile: parseString(ca!.value, ca!.source) };
  for (const [setting, file] of [['CLUSTER_TLS_CERT', files.certFile], ['CLUSTER_TLS_KEY', files.keyFile], ['CLUSTER_TLS_CA', files.caFile]] as const) {
    if (!existsSync(file)) throw new ConfigError(setting, file, 'file does not exist');
  }
  return files;
}

function parseString(value: RawValue, setting: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(setting, value, 'must be a non-empty string');
  return value.trim();
}

/** `first-last` as text (environment, file) or as a PortRange (library overrides). */
function parsePortRangeValue(value: RawValue, setting: string): PortRange {
  const range = value as Partial<PortRange> | null;
  if (typeof value === 'object' && range !== null && !Array.isArray(value)) return parsePortRange(`${range.first}-${range.last}`, setting);
  return parsePortRange(value, setting);
}

function parseBool(value: RawValue, setting: string): boolean {
  if (typeof value === 'boolean') return value;
  const text = String(value).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(setting, value, 'must be true or false');
}

function parseInteger(value: RawValue, setting: string, min: number, max: number): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(setting, value, `must be an integer from ${min} to ${max}`);
  return n;
}

function parsePort(value: RawValue, setting: string): number {
  return parseInteger(value, setting, 0, 65535);
}

function parseList(value: RawValue, setting: string): string[] {
  if (Array.isArray(value)) return value.map((item) => parseString(item, setting));
  if (typeof value !== 'string') throw new ConfigError(setting, value, 'must be a comma-separated list');
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function parseEnum<T extends string>(value: RawValue, setting: string, allowed: readonly T[]): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value.trim())) return value.trim() as T;
  throw new ConfigError(setting, value, `must be one of ${allowed.join(', ')}`);
}

function parseDiscoveryTypes(value: RawValue, setting: string): DiscoveryType[] {
  const items = parseList(value, setting);
  if (items.length === 0) throw new ConfigError(setting, value, 'must name at least one of epmd (alias multicast), dns, static');
  const types = items.map((item) => (item === 'multicast' ? 'epmd' : item));
  for (const type of types) {
    if (type !== 'epmd' && type !== 'dns' && type !== 'static') throw new ConfigError(setting, value, 'must be epmd (alias multicast), dns or static, or a comma-separated list of them');
  }
  return [...new Set(types)] as DiscoveryType[];
}

function parseClusterName(value: RawValue, setting: string): string {
  const name = parseString(value, setting);
  if (!/^[A-Za-z0-9._-]{1,63}$/.test(name)) throw new ConfigError(setting, value, 'must be 1-63 characters of letters, digits, dot, underscore or dash');
  return name;
}

/** One CLUSTER_DNS_SERVER entry, validated by the parser dns discovery itself uses. */
function parseDnsServerEntry(text: string, setting: string): string {
  if (parseDnsServer(text) === null) throw new ConfigError(setting, text, 'each entry must be host[:port] with a port from 1 to 65535: 10.96.0.10, 127.0.0.1:5353, fd00::53, [fd00::53]:53, [fe80::1%eth0]');
  return text;
}

/** The effective configuration with secrets masked, for `troupe config` and logs. */
export function redactConfig(config: TroupeConfig): Record<string, unknown> {
  return {
    ...config,
    clusterPort: config.clusterPort ?? null, // null: the first free port of clusterPortRange
    cookie: config.cookie === undefined ? undefined : '***',
    apiToken: config.apiToken === undefined ? undefined : '***',
  };
}

/** A secret: like parseString, but a rejected value is never echoed. */
function parseSecret(value: RawValue, setting: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(setting, value, 'must be a non-empty string', { secret: true });
  return value.trim();
}

/**
 * Shortest cookie accepted without a warning, in characters. A dialer reveals an HMAC proof to whatever it
 * dials, so the cookie must resist an offline dictionary attack: 16 random characters or more.
 */
export const MIN_COOKIE_LENGTH = 16;

/** The cookie when COOKIE is unset: fine on a laptop, refused by nothing; start-up warns. Production must set COOKIE. */
export const DEVELOPMENT_COOKIE = 'troupe-development-cookie';

/** What start-up should warn about the cookie of a clustered node: unset (the development cookie), or weak. */
export function cookieWarnings(config: TroupeConfig): string[] {
  if (!config.clusteringEnabled) return [];
  if (config.cookie === undefined) return ['COOKIE is not set: using the development cookie; set COOKIE to a shared secret in production'];
  const weakness = cookieWeakness(config.cookie);
  return weakness === null ? [] : [weakness];
}

/** A warning for a cookie that is easy to guess offline, or null. Never quotes the cookie. */
export function cookieWeakness(cookie: string | undefined): string | null {
  if (cookie === undefined || cookie.length >= MIN_COOKIE_LENGTH) return null;
  return `COOKIE is shorter than ${MIN_COOKIE_LENGTH} characters: a node that dials an impostor reveals a proof that can be guessed offline; use a long random secret (openssl rand -base64 32)`;
}
