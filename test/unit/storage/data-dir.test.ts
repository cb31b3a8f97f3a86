import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, describeSystemError } from '../../../lib/errors.js';
import { prepareDataDir } from '../../../lib/storage/data-dir.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-data-dir-'));
  writeFileSync(join(dir, 'file'), 'x');
  mkdirSync(join(dir, 'existing'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('prepareDataDir', () => {
  it('creates missing directories, several levels deep', () => {
    const path = join(dir, 'a', 'b', 'c');
    prepareDataDir(path);
    assert.ok(statSync(path).isDirectory());
  });

  it('accepts an existing directory', () => {
    prepareDataDir(join(dir, 'existing'));
    assert.ok(statSync(join(dir, 'existing')).isDirectory());
  });

  const refused: Array<[string, () => string, RegExp]> = [
    ['a file', () => join(dir, 'file'), /is a file, not a directory/],
    ['a path under a file', () => join(dir, 'file', 'data'), /file is a file, not a directory/],
    ['a path deep under a file', () => join(dir, 'file', 'x', 'y'), /file is a file, not a directory/],
  ];
  if (process.platform === 'linux') refused.push(['a path under /proc', () => `/proc/troupe-unit-${process.pid}/x`, /\/proc does not accept new directories/]);
  for (const [what, path, problem] of refused) {
    it(`refuses ${what} with a ConfigError naming DATA_DIR`, () => {
      assert.throws(() => prepareDataDir(path()), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.setting, 'DATA_DIR');
        assert.match(err.message, problem);
        assert.match(err.message, /point DATA_DIR at a writable directory/);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
    });
  }
});

describe('describeSystemError', () => {
  const cases: Array<[unknown, string]> = [
    [Object.assign(new Error('x'), { code: 'EROFS' }), 'read-only file system (EROFS)'],
    [Object.assign(new Error('x'), { code: 'EACCES' }), 'permission denied (EACCES)'],
    [Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' }), 'address already in use (EADDRINUSE)'],
    [Object.assign(new Error('something odd'), { code: 'EWHATEVER' }), 'something odd'],
    ['a string', 'a string'],
  ];
  for (const [err, expected] of cases) {
    it(expected, () => assert.equal(describeSystemError(err), expected));
  }
});
