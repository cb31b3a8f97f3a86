/**
 * The protocol cores' imports, resolved: every relative import of a file under
 * lib/protocol (SWIM, Raft, placement, seed retry) must land inside lib/protocol, or on lib/errors.ts (the
 * pure error classes). The general scan (protocol-purity.test.ts) already
 * walks lib/protocol recursively for clocks, timers, randomness and
 * packages; this one closes the gap it leaves, a relative path that climbs
 * out to an impure module.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'lib');
const PROTOCOL = join(LIB, 'protocol');
const ALLOWED_OUTSIDE = new Set([join(LIB, 'errors.ts')]);

function specifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const out: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^;'"]*?from\s*(['"])([^'"]+)\1|(?:^|[\s;])import\s*(['"])([^'"]+)\3/g;
  for (let m = re.exec(code); m !== null; m = re.exec(code)) out.push(m[2] ?? m[4]!);
  return out;
}

test('lib/protocol imports only modules inside lib/protocol (and lib/errors.ts)', () => {
  const files = (readdirSync(PROTOCOL, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  assert.ok(files.includes(join('raft', 'raft.ts')) && files.includes(join('swim', 'membership.ts')) && files.includes('placement.ts'), `found ${files.join(', ')}`);
  const problems: string[] = [];
  for (const file of files) {
    const dir = dirname(join(PROTOCOL, file));
    for (const spec of specifiers(readFileSync(join(PROTOCOL, file), 'utf8'))) {
      if (!spec.startsWith('.')) {
        problems.push(`${file}: package import ${spec}`);
        continue;
      }
      const target = resolve(dir, spec).replace(/\.js$/, '.ts');
      const inside = !relative(join(LIB, 'protocol'), target).startsWith('..');
      if (!inside && !ALLOWED_OUTSIDE.has(target)) problems.push(`${file}: ${spec} resolves outside lib/protocol`);
    }
  }
  assert.deepEqual(problems, []);
});
