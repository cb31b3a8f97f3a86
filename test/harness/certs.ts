/**
 * A throw-away public-key infrastructure for TLS tests, made with the
 * `openssl` command in a temporary directory: a cluster CA, node
 * certificates it signs, and a "rogue" certificate signed by another CA that
 * the cluster does not trust. Keys are P-256 (fast to generate); everything
 * expires in a day and is deleted by `cleanup()`.
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The three files a TLS transport takes. */
export interface NodeTlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface TestPki {
  dir: string;
  /** The cluster CA certificate. */
  caFile: string;
  /** A certificate for `name` signed by the cluster CA. */
  issue(name: string): NodeTlsFiles;
  /** A certificate signed by another CA; it trusts the cluster CA, so only the other side can refuse it. */
  rogue(name: string): NodeTlsFiles;
  cleanup(): void;
}

const NODE_EXTENSIONS = [
  'basicConstraints = critical, CA:FALSE',
  'keyUsage = critical, digitalSignature',
  'extendedKeyUsage = serverAuth, clientAuth',
  'subjectAltName = IP:127.0.0.1, DNS:localhost',
].join('\n');

/** Whether the `openssl` command is available; tests skip with this reason when it is not. */
export function opensslMissing(): string | false {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'the openssl command is not installed';
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function createCa(dir: string, name: string): { certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile };
}

function signNode(dir: string, name: string, ca: { certFile: string; keyFile: string }): { certFile: string; keyFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, NODE_EXTENSIONS);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${name}`]);
  openssl(['x509', '-req', '-in', csrFile, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-CAcreateserial', '-out', certFile, '-days', '1', '-extfile', extFile]);
  return { certFile, keyFile };
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-pki-'));
  const ca = createCa(dir, 'cluster-ca');
  let otherCa: { certFile: string; keyFile: string } | null = null;
  return {
    dir,
    caFile: ca.certFile,
    issue: (name) => ({ ...signNode(dir, name, ca), caFile: ca.certFile }),
    rogue: (name) => {
      otherCa ??= createCa(dir, 'other-ca');
      return { ...signNode(dir, name, otherCa), caFile: ca.certFile };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
