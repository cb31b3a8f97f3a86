#!/usr/bin/env node
/**
 * `troupe`: run a node, or talk to a running one.
 *
 * Exit status: 0 success; 1 a runtime failure (unreachable node, HTTP error,
 * failed start, a key `get` did not find); 2 a usage or configuration error;
 * 3 a `cas` not applied because the key held something else. Errors are one
 * line on stderr, `troupe: <message>`; stdout carries only results (and, for
 * a table command with --json, the node's answer whatever it was), so it can
 * be piped. Settings come from the environment, the flags below and the
 * config file (see config/README.md), environment first.
 */
import type { ParseArgsConfig } from 'node:util';
import { loadConfig, redactConfig, type TroupeConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { readRunningNode } from '../storage/ports-file.js';
import { parseCommandArgs, type Values } from './args.js';
import { CliError, createClient } from './client.js';
import { formatDiscovery, formatStatus } from './format.js';
import { oneLine, runStart } from './start.js';
import { TABLE_COMMANDS, TABLE_USAGE, runTableCommand } from './table-commands.js';
import { WATCH_USAGE, runWatchCommand } from './watch-command.js';

const USAGE = `usage: troupe <command> [options]

Run a node:
  start    [--node-name N] [--port P] [--cluster-port P] [--nodes a,b]
           [--data-dir D] [--discovery T] [--config FILE]
           run a node in the foreground; SIGINT/SIGTERM leave gracefully
  config   [same options as start]
           print the effective configuration as JSON (secrets masked)

Talk to a running node (--url URL, default http://127.0.0.1:$PORT, PORT=4000):
  status [--json]   the members as seen by the node
  discovery [--json] discovery's candidates, raw records and what came of each
  join NODE         join the cluster of NODE (name@host[:port])
  leave             leave the cluster gracefully
  remove NODE       forget a down or left member for good
  help              this text

${TABLE_USAGE}${WATCH_USAGE}
Mutating calls send Authorization: Bearer $CLUSTER_API_TOKEN when it is set.
Settings: environment variables > flags > config file > defaults (config/README.md).
`;

/** Flags shared by start and config, named as in config.ts SETTINGS. */
const NODE_FLAGS = ['node-name', 'port', 'cluster-port', 'nodes', 'data-dir', 'discovery'] as const;

const NODE_OPTIONS: ParseArgsConfig['options'] = {
  ...Object.fromEntries(NODE_FLAGS.map((flag) => [flag, { type: 'string' as const }])),
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const CLIENT_OPTIONS: ParseArgsConfig['options'] = {
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'watch') {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    return runWatchCommand(rest, { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text), env: process.env }, stop.signal);
  }
  if (command !== undefined && TABLE_COMMANDS.has(command)) {
    return runTableCommand(command, rest, { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text), env: process.env });
  }
  switch (command) {
    case 'start':
    case 'config': {
      const { values } = parse(command, rest, NODE_OPTIONS, 0);
      if (values.help) return help();
      const config = loadNodeConfig(values);
      if (command === 'config') {
        const running = readRunningNode(config.dataDir);
        const effective = { ...redactConfig(config), running: running && { pid: running.pid, httpPort: running.http, clusterPort: running.cluster, address: running.address } };
        process.stdout.write(`${JSON.stringify(effective, (_key, value: unknown) => (value === undefined ? null : value), 2)}\n`);
        return 0;
      }
      return runStart(config);
    }
    case 'status': {
      const { values } = parse(command, rest, { ...CLIENT_OPTIONS, json: { type: 'boolean' } }, 0);
      if (values.help) return help();
      const status = await client(values).status();
      process.stdout.write(values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return 0;
    }
    case 'discovery': {
      const { values } = parse(command, rest, { ...CLIENT_OPTIONS, json: { type: 'boolean' } }, 0);
      if (values.help) return help();
      const report = await client(values).discovery();
      process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatDiscovery(report));
      return 0;
    }
    case 'join':
    case 'remove': {
      const { values, positionals } = parse(command, rest, CLIENT_OPTIONS, 1);
      if (values.help) return help();
      const node = positionals[0]!;
      const c = client(values);
      const status = command === 'join' ? await c.join(node) : await c.remove(node);
      process.stdout.write(`${command === 'join' ? 'joined' : 'removed'} ${node}\n${formatStatus(status)}`);
      return 0;
    }
    case 'leave': {
      const { values } = parse(command, rest, CLIENT_OPTIONS, 0);
      if (values.help) return help();
      const status = await client(values).leave();
      process.stdout.write(`${status.node.name} left the cluster (state ${status.node.state}, confirmed by every member that was up); stop the process when done\n`);
      return 0;
    }
    case 'help':
    case '--help':
    case '-h':
      return help();
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    default:
      process.stderr.write(`troupe: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

function help(): number {
  process.stdout.write(USAGE);
  return 0;
}

function parse(command: string, args: string[], options: ParseArgsConfig['options'], positionalCount: number): { values: Values; positionals: string[] } {
  const parsed = parseCommandArgs(command, args, options);
  if (!parsed.values.help && parsed.positionals.length !== positionalCount) {
    const expected = positionalCount === 0 ? 'no arguments' : 'one NODE (name@host[:port])';
    throw new CliError(`${command} takes ${expected}, got ${parsed.positionals.length === 0 ? 'none' : parsed.positionals.map((p) => JSON.stringify(p)).join(' ')}; see troupe help`, 2);
  }
  return parsed;
}

function loadNodeConfig(values: Values): TroupeConfig {
  const flags: Record<string, string> = {};
  for (const flag of NODE_FLAGS) {
    const value = values[flag];
    if (typeof value === 'string') flags[`--${flag}`] = value;
  }
  const configFile = typeof values.config === 'string' ? values.config : undefined;
  return loadConfig({ env: process.env, flags, ...(configFile === undefined ? {} : { configFile }) });
}

function client(values: Values) {
  return createClient({ url: typeof values.url === 'string' ? values.url : undefined, env: process.env });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`troupe: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof ConfigError) {
      process.stderr.write(`troupe: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`troupe: ${oneLine(err)}\n`);
      process.exitCode = 1;
    }
  },
);
