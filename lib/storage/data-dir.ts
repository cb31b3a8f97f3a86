/**
 * Prepares DATA_DIR before anything opens it: creates what is missing one
 * directory at a time, then checks that the result is a writable directory.
 * Every failure is a ConfigError naming DATA_DIR and the problem in words.
 *
 * Why not mkdirSync(dir, { recursive: true }): under /proc it loops forever
 * at 100 % CPU (mkdir says ENOENT for a parent that exists, so it retries
 * the parent), where no signal handler can run; and its EEXIST or ENOTDIR
 * names no setting.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError, describeSystemError } from '../errors.js';

/** The setting every data-directory error names. */
const SETTING = 'DATA_DIR';
const ADVICE = 'point DATA_DIR at a writable directory';

/** Creates `dataDir` if needed and checks it is a writable directory. @throws ConfigError naming DATA_DIR */
export function prepareDataDir(dataDir: string): void {
  const path = resolve(dataDir);
  for (const missing of missingDirectories(path)) createOne(path, missing);
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw dataDirError(path, `is not writable: ${describeSystemError(err)}`);
  }
}

/** The ancestors of `path` (itself included) that do not exist, outermost first. */
function missingDirectories(path: string): string[] {
  const missing: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    const kind = entryKind(current);
    if (kind === 'directory') return missing;
    if (kind === 'other') {
      throw dataDirError(path, current === path ? 'is a file, not a directory' : `cannot be created: ${current} is a file, not a directory`);
    }
    missing.unshift(current);
    // The root always exists; reaching it means a stat failure we do not understand.
    if (dirname(current) === current) throw dataDirError(path, 'cannot be created: no existing parent directory');
  }
}

function entryKind(path: string): 'directory' | 'other' | 'missing' {
  try {
    return statSync(path).isDirectory() ? 'directory' : 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: some ancestor is a file; walking up finds it and names it.
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw dataDirError(path, `cannot be inspected: ${describeSystemError(err)}`);
  }
}

function createOne(path: string, directory: string): void {
  try {
    mkdirSync(directory);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && entryKind(directory) === 'directory') return; // created meanwhile by someone else
    // ENOENT for a parent that exists: a file system that takes no new directories (/proc, /sys).
    const problem = code === 'ENOENT' ? `${dirname(directory)} does not accept new directories` : describeSystemError(err);
    throw dataDirError(path, `cannot be created: ${problem}`);
  }
}

/** A ConfigError naming DATA_DIR; exported for the store, whose open can fail the same way. */
export function dataDirError(path: string, problem: string): ConfigError {
  return new ConfigError(SETTING, path, `${problem}; ${ADVICE}`);
}
