/**
 * `<dataDir>/ports.json`: the ports a running node took (HTTP, inter-node),
 * its pid, address and generation. Scripts and tests read the ports of nodes
 * started with port 0 or a port range; `troupe config` shows them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PortsFile {
  pid: number;
  node: string;
  http: number;
  cluster: number;
  address: string;
  generation: number;
}

export function writePortsFile(dataDir: string, ports: PortsFile): void {
  writeFileSync(join(dataDir, 'ports.json'), JSON.stringify(ports) + '\n');
}

/** The ports file of the node running on `dataDir`, or null when there is none or its process is gone. */
export function readRunningNode(dataDir: string): PortsFile | null {
  try {
    const ports = JSON.parse(readFileSync(join(dataDir, 'ports.json'), 'utf8')) as PortsFile;
    process.kill(ports.pid, 0);
    return ports;
  } catch {
    return null;
  }
}
