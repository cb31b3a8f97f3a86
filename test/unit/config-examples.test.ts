/**
 * The deployment examples in config/examples cannot run here (no container
 * engine, no cluster, no systemd), so they are checked by parsing: every
 * variable they set must be a real setting, and the values must load through
 * loadConfig exactly as a node would load them. Probes must point at the
 * health endpoints on the HTTP port.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig, SETTINGS } from '../../lib/config.js';
import { REPO_ROOT } from '../harness/troupe-process.js';

const KNOWN = new Set(SETTINGS.map((s) => s.env));
const examples = join(REPO_ROOT, 'config/examples');

/** Loads env as a node would, from an empty directory (no config file). */
function load(env: Record<string, string>) {
  return loadConfig({ env, cwd: tmpdir(), noFile: true });
}

function assertKnown(vars: string[], where: string, helpers: string[] = []): void {
  for (const name of vars) {
    if (helpers.includes(name)) continue;
    assert.ok(KNOWN.has(name), `${where} sets ${name}, which is not a troupe setting (see config/README.md)`);
  }
}

describe('config/examples', () => {
  it('compose: three nodes whose settings load and whose seeds are the services', () => {
    const doc = parse(readFileSync(join(examples, 'compose/docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment: Record<string, string>; healthcheck: { test: string[] }; ports: string[] }>;
    };
    const services = Object.keys(doc.services);
    assert.equal(services.length, 3);
    for (const [service, spec] of Object.entries(doc.services)) {
      const env = Object.fromEntries(Object.entries(spec.environment).map(([k, v]) => [k, String(v).replace(/\$\{COOKIE:\?[^}]*\}/, 'secret')]));
      assertKnown(Object.keys(env), `compose service ${service}`);
      const config = load(env);
      assert.equal(config.nodeName, `${service}@${service}`);
      assert.ok(config.clusteringEnabled);
      const seedHosts = config.clusterNodes.map((seed) => seed.split('@')[1]);
      assert.deepEqual(seedHosts.sort(), services.sort(), 'every seed is a compose service');
      assert.ok(spec.healthcheck.test.join(' ').includes(`:${config.port}/health/live`), 'healthcheck on /health/live at PORT');
      assert.ok(spec.ports.some((p) => p.endsWith(`:${config.port}`)), 'HTTP port published');
    }
  });

  it('kubernetes: a headless Service and a StatefulSet with dns discovery and health probes', () => {
    const docs = parseAllDocuments(readFileSync(join(examples, 'kubernetes/troupe.yaml'), 'utf8')).map((d) => d.toJS());
    const service = docs.find((d) => d.kind === 'Service');
    const set = docs.find((d) => d.kind === 'StatefulSet');
    assert.equal(service.spec.clusterIP, 'None', 'headless');
    assert.equal(service.spec.publishNotReadyAddresses, true, 'nodes must be discoverable before they are ready');
    assert.equal(set.spec.serviceName, service.metadata.name);
    const container = set.spec.template.spec.containers[0];
    const vars: Array<{ name: string; value?: string; valueFrom?: unknown }> = container.env;
    assertKnown(vars.map((v) => v.name), 'the StatefulSet', ['POD_NAME', 'POD_NAMESPACE']);
    const substitute = (text: string) => text.replace(/\$\(POD_NAME\)/g, 'troupe-0').replace(/\$\(POD_NAMESPACE\)/g, 'default');
    const env = Object.fromEntries(vars.map((v) => [v.name, v.value === undefined ? 'from-a-secret' : substitute(v.value)]));
    const config = load(env);
    assert.deepEqual(config.discoveryTypes, ['dns']);
    assert.equal(config.nodeName, 'troupe-0@troupe-0.troupe.default.svc.cluster.local');
    const clusterPort = service.spec.ports.find((p: { name: string }) => p.name === 'cluster');
    assert.equal(config.dnsHostname, `_${clusterPort.name}._tcp.${service.metadata.name}.default.svc.cluster.local`, 'the SRV name Kubernetes publishes for the cluster port');
    assert.equal(clusterPort.port, config.clusterPort);
    const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    assert.equal(ports.http, config.port);
    assert.equal(ports.cluster, config.clusterPort);
    assert.equal(container.readinessProbe.httpGet.path, '/health/ready');
    assert.equal(container.livenessProbe.httpGet.path, '/health/live');
    assert.ok(vars.some((v) => v.name === 'COOKIE' && v.valueFrom), 'COOKIE comes from a Secret');
  });

  it('systemd: the unit runs the CLI and its environment loads', () => {
    const unit = readFileSync(join(examples, 'systemd/troupe.service'), 'utf8');
    assert.match(unit, /^ExecStart=.*dist\/lib\/cli\/main\.js start$/m);
    assert.match(unit, /^KillSignal=SIGTERM$/m, 'SIGTERM is the graceful leave');
    const inline = [...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    const file = readFileSync(join(examples, 'systemd/troupe.env'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const);
    const env = Object.fromEntries([...file, ...inline]);
    assertKnown(Object.keys(env), 'the systemd example');
    const config = load(env);
    assert.equal(config.clusterNodes.length, 3);
    assert.equal(config.dataDir, '/var/lib/troupe');
  });
});
