/**
 * Protocol cores under lib/protocol are pure: no node:* or package imports
 * (only relative modules), no clock, no timers, no unseeded randomness, no
 * process or I/O globals. This test reads the TypeScript sources (found from
 * the compiled test: dist/test/unit -> ../../../lib/protocol), strips
 * comments and string contents, and fails on any forbidden construct.
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROTOCOL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'lib', 'protocol');

const FORBIDDEN: [RegExp, string][] = [
  [/\bDate\s*\.\s*now\b/, 'Date.now (take `now` as an argument)'],
  [/\bnew\s+Date\b/, 'new Date (take `now` as an argument)'],
  [/\bperformance\s*\.\s*now\b/, 'performance.now (take `now` as an argument)'],
  [/\bprocess\s*\.\s*hrtime\b/, 'process.hrtime (take `now` as an argument)'],
  [/\bMath\s*\.\s*random\b/, 'Math.random (use the injected Random)'],
  [/\bcrypto\s*\.\s*(getRandomValues|randomUUID|randomBytes)\b/, 'crypto randomness (use the injected Random)'],
  [/\b(setTimeout|setInterval|setImmediate|queueMicrotask|clearTimeout|clearInterval)\b/, 'timers (report nextWakeAt instead)'],
  [/\bprocess\b/, 'process (no environment or I/O in a core)'],
  [/\brequire\s*\(/, 'require'],
  [/\bimport\s*\(/, 'dynamic import'],
  [/\b(fetch|XMLHttpRequest|WebSocket)\b/, 'network I/O'],
  [/\bconsole\s*\./, 'console (return events instead)'],
];

/** Source with comments removed and string/template contents blanked (quotes kept), so only code is scanned. */
export function codeOnly(source: string): string {
  let out = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end === -1 ? source.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      out += c;
      i++;
      while (i < source.length && source[i] !== c) {
        if (source[i] === '\\') i++;
        i++;
      }
      out += c;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Module specifiers of static imports and re-exports. */
function importSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  const re = /(?:^|[\s;])(?:import|export)\s[^;'"]*?from\s*(['"])([^'"]+)\1|(?:^|[\s;])import\s*(['"])([^'"]+)\3/g;
  for (let m = re.exec(source); m !== null; m = re.exec(source)) specifiers.push(m[2] ?? m[4]!);
  return specifiers;
}

export function violations(source: string): string[] {
  const found: string[] = [];
  for (const spec of importSpecifiers(source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, ''))) {
    if (!spec.startsWith('./') && !spec.startsWith('../')) found.push(`import of ${JSON.stringify(spec)} (only relative modules of lib/protocol)`);
  }
  const code = codeOnly(source);
  for (const [pattern, what] of FORBIDDEN) if (pattern.test(code)) found.push(what);
  return found;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('the purity scan catches what it must (and ignores comments and strings)', () => {
  const bad: [string, RegExp][] = [
    ["import { readFileSync } from 'node:fs';", /node:fs/],
    ["import net from 'net';", /"net"/],
    ["export { x } from 'lmdb';", /lmdb/],
    ["import 'node:process';", /node:process/],
    ['const t = Date.now();', /Date\.now/],
    ['const r = Math.random();', /Math\.random/],
    ['setTimeout(() => 1, 5);', /timers/],
    ['const env = process.env.X;', /process/],
    ["const m = await import('node:fs');", /dynamic import/],
  ];
  for (const [source, expected] of bad) assert.match(violations(source).join('; '), expected, source);
  const good = [
    "import { shuffle } from '../random.js';",
    "export type { X } from './x.js';",
    '/** Cores never call Math.random or Date.now. */ const x = 1;',
    "const s = 'setTimeout is not called here'; // nor process.exit",
  ];
  for (const source of good) assert.deepEqual(violations(source), [], source);
});

test('lib/protocol sources are pure: no node:* or package imports, clocks, timers, unseeded randomness or I/O', () => {
  const files = tsFiles(PROTOCOL_DIR);
  assert.ok(files.some((f) => f.endsWith('membership.ts')), `scanned ${PROTOCOL_DIR} and found no membership.ts`);
  const problems = files.flatMap((file) => violations(readFileSync(file, 'utf8')).map((v) => `${relative(PROTOCOL_DIR, file)}: ${v}`));
  assert.deepEqual(problems, []);
});
