/**
 * Node names are unique, as epmd makes them on an Erlang host: a node that
 * finds a live node of its cluster with its name on its own host (by a scan
 * of the port range, lib/transport/port-scan.ts) refuses to start. A
 * duplicate name would corrupt everything keyed by node identity: membership
 * records, and the replicated tables built on them.
 */
import { NameInUseError } from './errors.js';
import type { Logger } from './log.js';
import { namePart, nodeHost, type PortRange } from './node-address.js';
import type { Transport } from './transport/transport.js';

/** @throws NameInUseError when a live node of `clusterName` on this node's host has its name */
export async function assertNameFree(transport: Transport, nodeName: string, options: { clusterName: string; range: PortRange; log: Logger; signal?: AbortSignal | undefined }): Promise<void> {
  const host = nodeHost(nodeName);
  const scan = await transport.scan(host, options.range, options.signal ? { signal: options.signal } : {});
  const twin = scan.nodes.find((n) => namePart(n.name) === namePart(nodeName) && n.clusterName === options.clusterName);
  if (twin) throw new NameInUseError(nodeName, twin.address);
  if (scan.error !== null) options.log.debug({ host, error: scan.error }, 'could not check that the node name is free on its host');
}
