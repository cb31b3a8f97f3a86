/**
 * The inter-node transport of a node, built from its configuration: TCP (or
 * mutual TLS) when clustering is on; with clustering off, an in-memory one
 * that neither listens nor dials (a standalone node). Start-up refuses a name
 * already taken on the host and turns a failed listen into a ConfigError
 * naming CLUSTER_PORT or CLUSTER_BIND.
 */
import type { TroupeConfig } from './config.js';
import { DEVELOPMENT_COOKIE } from './config.js';
import { listenError } from './errors.js';
import type { Logger } from './log.js';
import { formatAddress, nodeHost } from './node-address.js';
import type { Random } from './protocol/random.js';
import { createMemoryTransport, MemoryHub } from './transport/memory-transport.js';
import { createTcpTransport } from './transport/tcp-transport.js';
import type { Transport } from './transport/transport.js';
import { assertNameFree } from './unique-name.js';

export function createNodeTransport(config: TroupeConfig, self: { name: string; generation: number }, random: Random, log: Logger): Transport {
  const options = {
    self,
    advertisedAddress: formatAddress(nodeHost(config.nodeName), config.clusterPort ?? 0),
    bindHost: config.clusterBind,
    port: config.clusterPort ?? config.clusterPortRange,
    clusterName: config.clusterName,
    cookie: config.cookie ?? DEVELOPMENT_COOKIE,
    maxFrameBytes: config.maxFrameBytes,
    random,
    log,
    ...(config.tls ? { tls: config.tls } : {}),
  };
  return config.clusteringEnabled ? createTcpTransport(options) : createMemoryTransport(new MemoryHub(), options);
}

/** Checks the name is free on the host, then listens. @throws NameInUseError, ConfigError (port in use, address not on this host) */
export async function startNodeTransport(transport: Transport, config: TroupeConfig, log: Logger, signal: AbortSignal | undefined): Promise<{ address: string; port: number }> {
  if (config.clusteringEnabled) await assertNameFree(transport, config.nodeName, { clusterName: config.clusterName, range: config.clusterPortRange, log, signal });
  const bound = await transport.start(signal ? { signal } : {}).catch((err: unknown) => {
    throw listenError(err, { port: 'CLUSTER_PORT', bind: 'CLUSTER_BIND' }, config.clusterBind, config.clusterPort ?? 0);
  });
  signal?.throwIfAborted();
  return bound;
}
