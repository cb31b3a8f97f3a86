/**
 * zod is loaded by the first checked request, not when a node starts
 * (lib/http/validate.ts): an idle node never needs its ~95 modules and 3 MB
 * of heap (docs/BENCHMARKS.md, "Failure detection and RSS"). The schemas
 * still check from the first request on, with the same messages. A valid
 * `:table` is accepted by TABLE_NAME_PATTERN alone, so key reads and writes
 * never load zod.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBody } from '../../../lib/http/table-input.js';
import { MAX_TABLE_NAME_LENGTH, TABLE_NAME_PATTERN } from '../../../lib/tables/tables-api.js';
import { FakeTablesNode } from './fake-tables.js';
import { LOOPBACK } from './fake-node.js';
import { errorOf, jsonInit, makeApp } from './helpers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const zodLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes(`${join('node_modules', 'zod')}`));

describe('zod on first use', () => {
  it('is not loaded by building the app, unchecked routes or key reads and writes; the first checked request loads it and is checked', async () => {
    const node = new FakeTablesNode();
    const { app } = makeApp({ node });
    await node.tables.create('users', { partitions: 4, replicationFactor: 3 });
    for (const path of ['/health/live', '/api/cluster/status', '/metrics']) assert.equal((await app.request(path, {}, LOOPBACK)).status, 200, path);
    assert.equal((await app.request('/api/tables/users/keys/a', jsonInit('PUT', '1'), LOOPBACK)).status, 200);
    assert.equal((await app.request('/api/tables/users/keys/a', {}, LOOPBACK)).status, 200);
    assert.equal((await app.request('/api/tables/users/keys/a', { method: 'DELETE' }, LOOPBACK)).status, 200);
    assert.equal(zodLoaded(), false, 'zod was loaded before any request was checked');

    const res = await app.request('/api/tables/9users/keys/k', jsonInit('PUT', '1'), LOOPBACK);
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /field "table" must start with a letter/);
    assert.equal(zodLoaded(), true);
    assert.equal((await app.request('/api/tables/users/keys/k', jsonInit('PUT', '1'), LOOPBACK)).status, 200);
  });

  it('TABLE_NAME_PATTERN accepts exactly the table names the schema accepts (the :table fast path)', () => {
    const nameChar = fc.constantFrom(...'aZq09_.-/ @é'.split(''));
    const name = fc.oneof(fc.string({ unit: nameChar, maxLength: MAX_TABLE_NAME_LENGTH + 2 }), fc.string({ unit: nameChar, minLength: MAX_TABLE_NAME_LENGTH - 1, maxLength: MAX_TABLE_NAME_LENGTH + 1 }));
    fc.assert(fc.property(name, (table) => TABLE_NAME_PATTERN.test(table) === CreateBody().safeParse({ name: table }).success), { numRuns: 2000 });
  });

  it('is imported by no module of lib/, actors/ or discovery/ except as types', () => {
    const problems: string[] = [];
    for (const dir of ['lib', 'actors', 'discovery']) {
      for (const file of readdirSync(join(ROOT, dir), { recursive: true }) as string[]) {
        if (!file.endsWith('.ts')) continue;
        const code = readFileSync(join(ROOT, dir, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
        for (const m of code.matchAll(/(?:^|[\s;])(import|export)\s+(type\s+)?[^;'"]*?from\s*['"]zod(?:\/[^'"]*)?['"]/g)) {
          if (m[2] === undefined) problems.push(`${dir}/${file}: ${m[0].trim()}`);
        }
        if (/import\(\s*['"]zod/.test(code)) problems.push(`${dir}/${file}: import('zod…')`);
      }
    }
    assert.deepEqual(problems, [], 'load zod through lib/http/validate.ts lazySchema so that a node that checks nothing never loads it');
  });
});
