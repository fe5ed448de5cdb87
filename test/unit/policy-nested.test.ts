import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutorPolicy } from '../../agents/core/config.ts';
import { inspectEnv, inspectFind, shellCommandString, SHELLS, wrappedCommand } from '../../agents/worker/policyNested.ts';
import type { Command, PolicyContext } from '../../agents/worker/policyTypes.ts';

const cwd = '/w/p';
const batch = '/w/p/batches/b1';
const ctx: PolicyContext = { policy: ExecutorPolicy.parse({}), cwd, batchPath: batch, approved: false };
const command = (extra: Partial<Command> = {}): Command =>
  ({ words: [], redirects: [], shell: false, cwds: [cwd], via: null, stdinOperands: false, depth: 0, ...extra });

/** What an inspection of nested commands did: the words it blocked, and each nested command with its changes. */
interface Seen {
  blocked: string[];
  nested: Array<[string[], Partial<Command>]>;
}
function watch(run: (block: (reason: string, word: string) => void, sub: (w: string[], extra?: Partial<Command>) => void) => void): Seen {
  const seen: Seen = { blocked: [], nested: [] };
  run((_r, word) => seen.blocked.push(word), (w, extra = {}) => seen.nested.push([w, extra]));
  return seen;
}

describe('wrappedCommand', () => {
  it('finds the command a wrapper runs, past its options and fixed positionals', () => {
    const table: Array<[string, string[], string[] | null]> = [
      ['nice', ['-n', '10', 'curl', 'x'], ['curl', 'x']],
      ['nice', ['-5', 'curl'], ['curl']],
      ['timeout', ['-k', '2', '-s', 'INT', '5', 'curl'], ['curl']],
      ['timeout', ['5'], []],
      ['xargs', ['-I', '{}', '-P', '4', 'rm', '{}'], ['rm', '{}']],
      ['taskset', ['0x1', 'sudo', 'id'], ['sudo', 'id']],
      ['nohup', ['--', '-weird'], ['-weird']],
      ['stdbuf', ['-o', 'L', 'wget'], ['wget']],
      ['exec', ['-a', 'name', 'ssh'], ['ssh']],
      ['command', ['-v', 'ls'], ['ls']],
      ['busybox', ['wget', 'x'], ['wget', 'x']],
      ['ls', ['-l', 'x'], null],
      ['env', ['ls'], null],
    ];
    for (const [name, args, want] of table) assert.deepEqual(wrappedCommand(name, args), want, `${name} ${args.join(' ')}`);
  });
});

describe('shellCommandString', () => {
  it('finds the script of sh -c, and none without -c', () => {
    const table: Array<[string[], string | null]> = [
      [['-c', 's'], 's'],
      [['-lc', 's', 'arg0'], 's'],
      [['-o', 'pipefail', '-c', 's'], 's'],
      [['+o', 'c', '-e', 's'], null],
      [['-O', 'extglob', '-c', 's'], 's'],
      [['--norc', '-c', 's'], 's'],
      [['-c', '--', 's'], 's'],
      [['--', '-c'], null],
      [['-c'], null],
      [['run.sh'], null],
      [['-e', 'run.sh', '-c', 's'], null],
      [['-', 's'], null],
    ];
    for (const [args, want] of table) assert.equal(shellCommandString(args), want, args.join(' '));
  });

  it('knows the usual shells', () => {
    for (const sh of ['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'fish', 'tcsh']) assert.ok(SHELLS.has(sh), sh);
    assert.equal(SHELLS.has('python3'), false);
  });
});

describe('inspectEnv', () => {
  const table: Array<{ args: string[]; shell?: boolean; want: Seen }> = [
    { args: ['FOO=1', 'ls', '-l'], want: { blocked: [], nested: [[['ls', '-l'], { cwds: [cwd] }]] } },
    { args: ['CUDA_DEVICE_ORDER=x', 'ls'], want: { blocked: ['CUDA_DEVICE_ORDER=x'], nested: [[['ls'], { cwds: [cwd] }]] } },
    { args: ['-C', '/tmp', 'ls'], want: { blocked: [], nested: [[['ls'], { cwds: ['/tmp'] }]] } },
    { args: ['--chdir=sub', 'ls'], want: { blocked: [], nested: [[['ls'], { cwds: [`${cwd}/sub`] }]] } },
    { args: ['-C', '$D', 'ls'], shell: true, want: { blocked: [], nested: [[['ls'], { cwds: [null] }]] } },
    { args: ['-S', 'curl -s "a b"', 'y'], want: { blocked: [], nested: [[['curl', '-s', 'a b', 'y'], { cwds: [cwd] }]] } },
    { args: ['-Scurl x'], want: { blocked: [], nested: [[['curl', 'x'], { cwds: [cwd] }]] } },
    { args: ['--split-string=wget x; ls'], want: { blocked: [], nested: [[['wget', 'x'], { cwds: [cwd] }]] } },
    { args: ['--', 'FOO=1', 'ls'], want: { blocked: [], nested: [[['FOO=1', 'ls'], { cwds: [cwd] }]] } },
    { args: ['-u', 'CUDA_VISIBLE_DEVICES', 'ls'], want: { blocked: ['-u CUDA_VISIBLE_DEVICES'], nested: [[['ls'], { cwds: [cwd] }]] } },
    { args: ['-uHIP_VISIBLE_DEVICES'], want: { blocked: ['-uHIP_VISIBLE_DEVICES'], nested: [] } },
    { args: ['--unset=GPU_DEVICE_ORDINAL'], want: { blocked: ['--unset=GPU_DEVICE_ORDINAL'], nested: [] } },
    { args: ['-u', 'HOME', 'ls'], want: { blocked: [], nested: [[['ls'], { cwds: [cwd] }]] } },
    { args: ['-i'], want: { blocked: ['-i'], nested: [] } },
    { args: ['--ignore-environment', 'ls'], want: { blocked: ['--ignore-environment'], nested: [[['ls'], { cwds: [cwd] }]] } },
    { args: ['-', 'ls'], want: { blocked: ['-'], nested: [[['ls'], { cwds: [cwd] }]] } },
    { args: ['-0', '-v', 'ls'], want: { blocked: [], nested: [[['ls'], { cwds: [cwd] }]] } },
    { args: [], want: { blocked: [], nested: [] } },
  ];
  for (const c of table) {
    it(`env ${c.args.join(' ')}`, () => {
      assert.deepEqual(watch((b, sub) => inspectEnv(c.args, command({ shell: c.shell ?? false }), b, sub)), c.want);
    });
  }
});

describe('inspectFind', () => {
  const table: Array<{ args: string[]; want: Seen }> = [
    { args: ['-L', '/d', '-name', 'x', '-delete'], want: { blocked: ['/d'], nested: [] } },
    { args: ['-D', 'tree', '-O2', '/d', '-delete'], want: { blocked: ['/d'], nested: [] } },
    { args: [batch, '-delete'], want: { blocked: [], nested: [] } },
    { args: ['-delete'], want: { blocked: ['.'], nested: [] } },
    { args: [batch, '-fprint', '/etc/x', '-fls', `${batch}/ls`], want: { blocked: ['/etc/x'], nested: [] } },
    { args: ['.', '-execdir', 'rm', '{}', '+'], want: { blocked: [], nested: [[['rm', '.'], { via: 'find -execdir' }]] } },
    {
      args: ['a', 'b', '-exec', 'cat', '{}/x', ';', '-ok', 'ls', ';'],
      want: {
        blocked: [],
        nested: [
          [['cat', 'a/x'], { via: 'find -exec' }],
          [['cat', 'b/x'], { via: 'find -exec' }],
          [['ls'], { via: 'find -ok' }],
          [['ls'], { via: 'find -ok' }],
        ],
      },
    },
    { args: ['.', '(', '-name', 'x', ')', '-exec', ';'], want: { blocked: [], nested: [] } },
  ];
  for (const c of table) {
    it(`find ${c.args.join(' ')}`, () => {
      assert.deepEqual(watch((b, sub) => inspectFind(c.args, command(), ctx, b, sub)), c.want);
    });
  }
});
