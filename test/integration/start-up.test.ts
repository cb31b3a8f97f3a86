/**
 * Start-up failures of real `troupe start` processes: each ends the process
 * with one line on stderr that names the setting and the problem, and a
 * SIGTERM stops a node at any point of its start-up. Every process is
 * killed by PID afterwards; nothing here asserts a duration.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, ProcessGroup, type TroupeProcess } from '../harness/troupe-process.js';
import { waitFor } from '../harness/wait-for.js';

const group = new ProcessGroup();
let scratch: string;

before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'troupe-start-up-'));
});
after(async () => {
  await group.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

/** Waits for the process to exit by itself (it is killed in cleanup if it never does). */
async function exitOf(proc: TroupeProcess): Promise<number | null> {
  await waitFor(() => proc.exitCode !== undefined, { timeoutMs: 15_000, what: `${proc.nodeName} to exit by itself (stderr so far: ${proc.stderr.slice(-500)})` });
  return proc.exitCode ?? null;
}

function stderrLines(proc: TroupeProcess): string[] {
  return proc.stderr.split('\n').filter((line) => line !== '');
}

async function assertFailsWithOneLine(proc: TroupeProcess, pattern: RegExp): Promise<void> {
  const code = await exitOf(proc);
  assert.notEqual(code, 0, 'a failed start exits non-zero');
  const lines = stderrLines(proc);
  assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${proc.stderr}`);
  assert.match(lines[0]!, /^troupe: /);
  assert.match(lines[0]!, pattern);
  assert.equal(proc.stdout, '', 'nothing on stdout');
}

describe('troupe start: a bad DATA_DIR ends the process with one line naming DATA_DIR', () => {
  it('DATA_DIR is a file', async () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'x');
    const proc = group.start({ name: 'file', clusterPort: await freePort(), env: { DATA_DIR: file } });
    await assertFailsWithOneLine(proc, /DATA_DIR.*not a directory/);
  });

  it('DATA_DIR is under a file', async () => {
    const file = join(scratch, 'another-file');
    writeFileSync(file, 'x');
    const proc = group.start({ name: 'under', clusterPort: await freePort(), env: { DATA_DIR: join(file, 'data') } });
    await assertFailsWithOneLine(proc, /DATA_DIR.*another-file is a file, not a directory/);
  });

  it('DATA_DIR is where no directory can be created (/proc)', { skip: process.platform !== 'linux' ? 'needs /proc (Linux)' : false }, async () => {
    const proc = group.start({ name: 'proc', clusterPort: await freePort(), env: { DATA_DIR: `/proc/troupe-test-${process.pid}` } });
    await assertFailsWithOneLine(proc, /DATA_DIR.*\/proc/);
  });
});

describe('troupe start: a port in use ends the process with one line naming the setting', () => {
  let taken: Server;
  let takenPort: number;
  before(async () => {
    taken = createServer();
    await new Promise<void>((resolveListen) => taken.listen(0, '127.0.0.1', resolveListen));
    takenPort = (taken.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolveClose) => taken.close(() => resolveClose())));

  it('CLUSTER_PORT', async () => {
    const proc = group.start({ name: 'cport', clusterPort: takenPort, env: { LOG_LEVEL: 'warn' } });
    await assertFailsWithOneLine(proc, new RegExp(`CLUSTER_PORT.*${takenPort}.*in use`));
  });

  it('PORT', async () => {
    const proc = group.start({ name: 'hport', clusterPort: await freePort(), env: { LOG_LEVEL: 'warn', PORT: String(takenPort) } });
    await assertFailsWithOneLine(proc, new RegExp(`PORT.*${takenPort}.*in use`));
  });
});

describe('troupe start: SIGTERM during start-up', () => {
  let silentDns: UdpSocket;
  before(async () => {
    // Answers nothing, so dns discovery's start waits for its first poll.
    silentDns = createSocket('udp4');
    await new Promise<void>((resolveBind) => silentDns.bind(0, '127.0.0.1', resolveBind));
  });
  after(() => new Promise<void>((resolveClose) => silentDns.close(() => resolveClose())));

  it('stops the node before it is up, and exits 0', async () => {
    const env = {
      CLUSTER_DISCOVERY_TYPE: 'dns',
      CLUSTER_DNS_HOSTNAME: 'troupe.test',
      CLUSTER_DNS_SERVER: `127.0.0.1:${silentDns.address().port}`,
    };
    const proc = group.start({ name: 'sigterm', clusterPort: await freePort(), env });
    await waitFor(() => proc.stderr.includes('inter-node transport listening'), { timeoutMs: 15_000, what: 'the node to be in its start-up', abortIf: proc.exitedReason });
    proc.child.kill('SIGTERM');
    assert.equal(await exitOf(proc), 0, proc.stderr);
    assert.doesNotMatch(proc.stdout, / up: /, 'the start-up was abandoned, not completed');
    assert.equal(existsSync(join(proc.dataDir, 'ports.json')), false, 'no ports file: the node never served');
    assert.doesNotMatch(proc.stderr, /"msg":"node started"/);
  });
});
