/**
 * config/README.md documents every setting of `SETTINGS` and nothing else:
 * each environment variable has a table row with its CLI flag and file key,
 * and every environment variable the README mentions (any backticked
 * all-caps identifier) exists.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SETTINGS } from '../../lib/config.js';

const README = readFileSync(new URL('../../../config/README.md', import.meta.url), 'utf8');
const ENV_MENTION = /`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)`/g;

/** Table rows as cells, for rows whose first cell is one backticked env var. */
function tableRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of README.split('\n')) {
    if (!line.startsWith('|')) continue;
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    const env = /^`([A-Z0-9_]+)`$/.exec(cells[0] ?? '')?.[1];
    if (env) rows.set(env, cells);
  }
  return rows;
}

describe('config/README.md', () => {
  const rows = tableRows();

  it('has a row for every environment variable in SETTINGS, with its flag and file key', () => {
    for (const setting of SETTINGS) {
      const cells = rows.get(setting.env);
      assert.ok(cells, `config/README.md has no table row for ${setting.env}`);
      assert.equal(cells[1], setting.flag ? `\`${setting.flag}\`` : '—', `${setting.env}: CLI flag column`);
      assert.equal(cells[2], `\`${setting.key}\``, `${setting.env}: file key column`);
      assert.ok((cells[3] ?? '') !== '' && (cells[4] ?? '') !== '', `${setting.env}: default and meaning must be filled in`);
    }
  });

  it('mentions no environment variable that is not in SETTINGS', () => {
    const known = new Set(SETTINGS.map((s) => s.env));
    const unknown = [...README.matchAll(ENV_MENTION)].map((m) => m[1]!).filter((name) => !known.has(name));
    assert.deepEqual([...new Set(unknown)], [], 'config/README.md mentions variables that lib/config.ts SETTINGS does not define');
  });

  it('has no table row for a variable outside SETTINGS', () => {
    const known = new Set(SETTINGS.map((s) => s.env));
    assert.deepEqual([...rows.keys()].filter((env) => !known.has(env)), []);
  });
});
