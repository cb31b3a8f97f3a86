/**
 * Command-line parsing shared by the CLI's commands: node:util parseArgs,
 * strict, with its errors turned into one-line usage errors (exit 2) that
 * name the command.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './client.js';

export type Values = Record<string, string | boolean | undefined>;

/** The options and positionals of `command`; a CliError with exit status 2 for an unknown or malformed option. */
export function parseCommandArgs(command: string, args: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const message = (err as Error).message.split('. ')[0]!;
    let said = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? message.replace(/^Unknown/, 'unknown') : message;
    // A negative number is more likely a value than a mistyped option.
    if (/'-[0-9.]/.test(said)) said += ' (put -- before an argument that starts with "-")';
    throw new CliError(`${command}: ${said}; see troupe help`, 2);
  }
}
