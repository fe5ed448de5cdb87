// The command-line contract's pure parts: usage text as forge names it, and parseArgs's errors
// said the way a person reads them, with a did-you-mean for a mistyped option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from 'node:util';
import { completeUsage, describeArgError, suggestOption } from '../../agents/core/args.ts';

const OPTIONS = { simulate: { type: 'string' }, role: { type: 'string' }, 'base-port': { type: 'string' }, json: { type: 'boolean' }, shared: { type: 'string' } } as const;

function errorOf(args: string[]): unknown {
  try {
    parseArgs({ args, options: OPTIONS, allowPositionals: false, strict: true });
  } catch (err) {
    return err;
  }
  throw new Error(`parseArgs accepted ${args.join(' ')}`);
}

test('describeArgError: unknown options with and without a near name, a missing value, a stray argument', () => {
  const cases: Array<[string[], string]> = [
    [['--simulat', '3'], 'unknown option --simulat (did you mean --simulate?)'],
    [['--rloe=brain'], 'unknown option --rloe (did you mean --role?)'],
    [['--base-prot', '9000'], 'unknown option --base-prot (did you mean --base-port?)'],
    [['--jsn'], 'unknown option --jsn (did you mean --json?)'],
    [['--no-such-flag'], 'unknown option --no-such-flag'],
    [['-x'], 'unknown option -x'],
    [['extra'], "unexpected argument 'extra': this command takes only options"],
  ];
  for (const [args, want] of cases) assert.equal(describeArgError(errorOf(args), OPTIONS), want, args.join(' '));
  assert.match(describeArgError(errorOf(['--simulate']), OPTIONS), /--simulate <value>' argument missing/);
});

test('suggestOption: nothing for a name far from every option', () => {
  assert.equal(suggestOption('--verbose', OPTIONS), '');
  assert.equal(suggestOption('--shraed', OPTIONS), ' (did you mean --shared?)');
});

test('completeUsage: npm run X -- becomes forge X; --shared and --help get a line when the text has none', () => {
  const rig = completeUsage('usage: npm run rig -- [--simulate N] [--shared DIR]\n  --simulate N   simulated GPUs');
  assert.equal(rig, [
    'usage: forge rig [--simulate N] [--shared DIR]',
    '  --simulate N   simulated GPUs',
    '  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)',
    '  -h, --help    print this help and exit',
  ].join('\n'));
  const own = 'usage: forge demo [--keep]\n  --keep      keep it\n  -h, --help  print this help and exit\nIt takes no --shared.';
  assert.equal(completeUsage(own), own, 'a usage that lists its options is left as it is');
});
