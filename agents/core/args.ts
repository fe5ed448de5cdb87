// Command-line parsing shared by every entry point: node:util parseArgs, with the
// contract's --shared (default RIG_SHARED, else ./shared).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { resolveShared } from './paths.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommand<O extends Options>(usage: string, options: O, argv = process.argv.slice(2)) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...options, shared: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(usage + '\n');
      process.exit(0);
    }
    const shared = resolveShared((parsed.values as { shared?: string }).shared);
    return { values: parsed.values as typeof parsed.values, positionals: parsed.positionals, shared };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    process.exit(1);
  }
}
