// Command-line parsing shared by every entry point: node:util parseArgs, with the
// contract's --shared (default RIG_SHARED, else ./shared) and --help.
//
// The contract of every command: --help (-h) prints the usage on stdout and exits 0; a usage
// error (unknown option, missing value, bad value, stray argument) prints the problem and the
// usage on stderr, nothing on stdout, and exits 2. Exit 1 is left for a command that ran and
// failed.
import { writeSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closestNames } from '../plan/suggest.ts';
import { resolveShared } from './paths.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The exit status of a usage error, apart from 1 (the command ran and failed). */
export const USAGE_EXIT = 2;

export interface CommandShape {
  /** How many positional arguments the command takes (default: any number, the caller checks). */
  positionals?: { min?: number; max: number };
}

/**
 * The usage as `forge` names it, with the options every command takes listed when the text
 * does not list them itself: `usage: npm run rig -- ...` becomes `usage: forge rig ...`.
 */
export function completeUsage(usage: string): string {
  let text = usage.replace(/^usage: npm run (\S+) -- ?/, 'usage: forge $1 ');
  text = text.replace(/^usage: forge (\S+) $/m, 'usage: forge $1');
  const lines = [text];
  const synopsis = text.split('\n', 1)[0]!;
  if (!/^\s+--shared\b/m.test(text) && synopsis.includes('--shared')) lines.push('  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)');
  if (!/^\s+(-h, )?--help\b/m.test(text)) lines.push('  -h, --help    print this help and exit');
  return lines.join('\n');
}

/** Prints a usage error (the problem, then the usage) on stderr and exits 2. */
export function usageError(usage: string, problem: string): never {
  process.stderr.write(`${problem}\n${completeUsage(usage)}\n`);
  process.exit(USAGE_EXIT);
}

/** Prints the usage on stdout and exits 0. */
export function printUsage(usage: string): never {
  process.stdout.write(completeUsage(usage) + '\n');
  process.exit(0);
}

/** " (did you mean --x?)" when one of the options is a typo away from what was written; else ''. */
export function suggestOption(written: string, options: Options): string {
  const bare = written.replace(/^-+/, '').replace(/=.*$/, '');
  const [near] = closestNames(bare, Object.keys(options), 1);
  return near === undefined ? '' : ` (did you mean --${near}?)`;
}

/** parseArgs's message, said the way a person reads it, with a did-you-mean for an unknown option. */
export function describeArgError(err: unknown, options: Options): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string }).code;
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) return `unknown option ${unknown[1]}${suggestOption(unknown[1]!, options)}`;
  const positional = /Unexpected argument '([^']+)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && positional) return `unexpected argument '${positional[1]}': this command takes only options`;
  return message;
}

/** Checks the number of positional arguments against the command's shape; a usage error otherwise. */
function checkPositionals(usage: string, positionals: string[], shape: CommandShape): void {
  const want = shape.positionals;
  if (want === undefined) return;
  if (positionals.length > want.max) {
    const extra = positionals[want.max]!;
    const hint = extra.startsWith('-') ? '' : want.max === 0 ? ': this command takes only options' : `: at most ${want.max} argument${want.max === 1 ? '' : 's'}`;
    usageError(usage, `unexpected argument '${extra}'${hint}`);
  }
  if (positionals.length < (want.min ?? 0)) usageError(usage, `expected ${want.min} argument${want.min === 1 ? '' : 's'}, got ${positionals.length}`);
}

/** A command's options parsed strictly (--help added): the usage on --help, a usage error on anything wrong. */
export function parseStrict<O extends Options>(usage: string, options: O, argv = process.argv.slice(2), shape: CommandShape = {}) {
  const all = { ...options, help: { type: 'boolean', short: 'h' } } as const;
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: all, allowPositionals: true, strict: true });
  } catch (err) {
    usageError(usage, describeArgError(err, all));
  }
  if ((parsed.values as { help?: boolean }).help) printUsage(usage);
  checkPositionals(usage, parsed.positionals, shape);
  return { values: parsed.values as typeof parsed.values, positionals: parsed.positionals };
}

/** parseStrict with the contract's --shared DIR, resolved (default $RIG_SHARED, else ./shared). */
export function parseCommand<O extends Options>(usage: string, options: O, argv = process.argv.slice(2), shape: CommandShape = {}) {
  const { values, positionals } = parseStrict(usage, { ...options, shared: { type: 'string' } } as const, argv, shape);
  const shared = resolveShared((values as { shared?: string }).shared);
  return { values, positionals, shared };
}

/**
 * Runs a command's body. The commands avoid top-level await so they also bundle as CommonJS
 * (agents/core/codeCache.ts); a failure nobody caught is printed as node prints one, exit 1.
 */
export function runCommand(main: () => Promise<unknown>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

/**
 * Writes a command's whole output to stdout (fd 1) synchronously, without process.stdout:
 * creating that stream loads node's stream modules, a few ms of a short command's start.
 * A pipe that is full (EAGAIN) is waited on; one whose reader went away (EPIPE, as with
 * `| head -1`) ends the output quietly, as a shell expects.
 */
export function writeStdout(text: string): void {
  const buf = Buffer.from(text);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') Atomics.wait(pause, 0, 0, 5);
      else if (code === 'EPIPE') return;
      else throw err;
    }
  }
}
