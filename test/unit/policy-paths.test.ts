import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutorPolicy } from '../../agents/core/config.ts';
import { checkDeletion, checkRecursiveRm } from '../../agents/worker/policyDeletion.ts';
import { isInside, resolveDir, resolveOperand } from '../../agents/worker/policyPaths.ts';
import type { Command, PolicyContext } from '../../agents/worker/policyTypes.ts';
import { checkRedirect, checkWrites } from '../../agents/worker/policyWrites.ts';

const cwd = '/rig/plans/p';
const batch = '/rig/plans/p/batches/b1';
const ctx: PolicyContext = {
  policy: ExecutorPolicy.parse({ system_paths: ['/etc', '/usr/', '/dev', '/proc', '/rig'] }),
  cwd,
  batchPath: batch,
  approved: false,
};
const command = (extra: Partial<Command> = {}): Command =>
  ({ words: [], redirects: [], shell: false, cwds: [cwd], via: null, stdinOperands: false, depth: 0, ...extra });

/** Runs one check and returns the words it blocked (the reasons are checked in policy.test.ts and below). */
function blockedWords(check: (block: (reason: string, word: string) => void) => void): string[] {
  const out: string[] = [];
  check((_reason, word) => out.push(word));
  return out;
}

describe('resolveDir', () => {
  it('follows cd, and gives up on what the shell would expand', () => {
    const table: Array<[string | null, string, boolean, string | null]> = [
      ['/a', 'b', false, '/a/b'],
      ['/a', '/x/../y', false, '/y'],
      ['/a', '..', false, '/'],
      [null, 'b', false, null],
      [null, '/x', false, '/x'],
      ['/a', '', false, null],
      ['/a', '$D', true, null],
      ['/a', '$D', false, '/a/$D'],
      ['/a', '~', true, null],
      ['/a', 'x*', true, null],
      ['/a', '{b,c}', true, null],
    ];
    for (const [from, dir, shell, want] of table) assert.equal(resolveDir(from, dir, shell), want, `${from} ${dir} ${shell}`);
  });
});

describe('resolveOperand', () => {
  it('resolves a path operand, or null when the shell would expand it', () => {
    const table: Array<[string, string | null, boolean, string | null]> = [
      ['/x/', '/c', false, '/x'],
      ['/', '/c', false, '/'],
      ['/a/./b/../c', '/c', false, '/a/c'],
      ['x', '/c', false, '/c/x'],
      ['x', null, false, null],
      ['$H/x', '/c', true, null],
      ['`pwd`', '/c', true, null],
      ['~x', '/c', true, null],
      ['~x', '/c', false, '/c/~x'],
      ['{a,b}', '/c', true, null],
      ['{a..z}', '/c', true, null],
      ['{a}', '/c', true, '/c/{a}'],
    ];
    for (const [word, from, shell, want] of table) assert.equal(resolveOperand(word, from, shell), want, `${word} ${from} ${shell}`);
  });
});

describe('isInside', () => {
  it('is strictly below the folder', () => {
    const table: Array<[string, string, boolean]> = [
      ['/a/b', '/a', true],
      ['/a/b', '/a/', true],
      ['/a', '/a', false],
      ['/ab', '/a', false],
      ['/', '/a', false],
    ];
    for (const [path, folder, want] of table) assert.equal(isInside(path, folder), want, `${path} in ${folder}`);
  });
});

describe('checkRecursiveRm', () => {
  const table: Array<{ args: string[]; extra?: Partial<Command>; want: string[] }> = [
    { args: ['-rf', 'x'], want: ['x'] },
    { args: ['-f', '/'], want: [] },
    { args: ['-R', `${batch}/x`], want: [] },
    { args: ['--recursive', 'batches/b1/t'], want: [] },
    { args: ['--', '-r'], want: [] },
    { args: ['-r', '--', '-x'], want: ['-x'] },
    { args: ['-r', 'batches/b1/t', '/tmp', '/etc'], want: ['/tmp'] },
    { args: ['-r', '$X'], extra: { shell: true }, want: ['$X'] },
    { args: ['-r', '$X'], extra: { cwds: [batch] }, want: [] }, // no shell: a folder named $X in the batch
    { args: ['-r', 'b1/t'], extra: { cwds: [`${cwd}/batches`, cwd] }, want: ['b1/t'] },
    { args: ['-r', 't'], extra: { cwds: [null] }, want: ['t'] },
    { args: ['-r'], extra: { stdinOperands: true }, want: ['rm -r'] },
  ];
  for (const c of table) {
    it(`rm ${c.args.join(' ')} ${JSON.stringify(c.extra ?? {})}`, () => {
      assert.deepEqual(blockedWords((b) => checkRecursiveRm(c.args, command(c.extra), ctx, b)), c.want);
    });
  }
  it('says why', () => {
    const reasons: string[] = [];
    checkRecursiveRm(['-r', '$X'], command({ shell: true, stdinOperands: true }), ctx, (r) => reasons.push(r));
    assert.deepEqual(reasons, [
      `blocked: "rm -r" under xargs deletes paths read from its input, which cannot be checked before it runs (recursive deletion is allowed only inside the batch folder ${batch})`,
      `blocked: "rm -r" would delete "$X", which depends on the shell or the directory and cannot be checked (recursive deletion is allowed only inside the batch folder ${batch})`,
    ]);
  });
});

describe('checkDeletion', () => {
  it('allows the batch folder itself only where deletion is below it (find -delete)', () => {
    assert.deepEqual(blockedWords((b) => checkDeletion('rm -r', [batch], command(), ctx, b)), [batch]);
    assert.deepEqual(blockedWords((b) => checkDeletion('find -delete', [batch], command(), ctx, b, true)), []);
    assert.deepEqual(blockedWords((b) => checkDeletion('find -delete', [`${batch}/..`], command(), ctx, b, true)), [`${batch}/..`]);
  });
});

describe('checkWrites', () => {
  // Run from the batch folder, which lies inside the system folder /rig here: relative
  // operands (and sed's script, read as one) are exempt, so only the system paths show.
  const table: Array<[string, string[], string[]]> = [
    ['dd', ['if=/etc/x', 'of=/etc/y'], ['/etc/y']],
    ['sed', ['-i', 's/a/b/', 'f', '/etc/x'], ['/etc/x']],
    ['sed', ['-ni', 's/a/b/', '/etc/x'], ['/etc/x']],
    ['sed', ['--in-place=.bak', 's/a/b/', '/etc/x'], ['/etc/x']],
    ['sed', ['s/a/b/', '/etc/x'], []],
    ['touch', ['/etc/a', '-d', 'x', 'ok', '/usr/b'], ['/etc/a', '/usr/b']],
    ['tee', ['/dev/null', '/dev/fd/2', '/proc/self/fd/1', '/dev/sda'], ['/dev/sda']],
    ['tee', [`${batch}/out`, `${cwd}/out`], [`${cwd}/out`]],
    ['mv', ['--', '/etc/a'], ['/etc/a']],
    ['cp', ['x', '/etc'], ['/etc']],
    ['cp', ['/etc/a', 'b'], []],
    ['cp', ['/etc/a'], []],
    ['cp', ['-t', '/usr', 'x'], ['/usr']],
    ['cp', ['-t/usr', 'x'], ['/usr']],
    ['cp', ['--target-directory=/usr', 'x'], ['/usr']],
    ['cp', ['-S', '/etc/s', 'a', 'b'], []],
    ['ln', ['-s', '/etc/passwd', 'link'], []],
    ['install', ['-m', '644', 'x', '/usr/bin/x'], ['/usr/bin/x']],
    ['install', ['-d', '/etc/a', '/usr/b'], ['/etc/a', '/usr/b']],
    ['cat', ['/etc/x'], []],
  ];
  for (const [name, args, want] of table) {
    it(`${name} ${args.join(' ')}`, () => assert.deepEqual(blockedWords((b) => checkWrites(name, args, command({ cwds: [batch] }), ctx, b)), want));
  }
  it('names the command, the word and the folder', () => {
    const reasons: string[] = [];
    checkWrites('tee', ['/usr/x'], command({ cwds: [cwd, '/'] }), ctx, (r) => reasons.push(r));
    assert.deepEqual(reasons, ['blocked: "tee" would write to "/usr/x", inside the system folder /usr (executor.system_paths in config.json)']);
  });
});

describe('checkRedirect', () => {
  const table: Array<[string, string, string[]]> = [
    ['>', '/etc/x', ['/etc/x']],
    ['>>', '/etc/x', ['/etc/x']],
    ['>|', '/etc/x', ['/etc/x']],
    ['&>', '/etc/x', ['/etc/x']],
    ['&>>', '/etc/x', ['/etc/x']],
    ['<>', '/etc/x', ['/etc/x']],
    ['>&', '/etc/x', ['/etc/x']],
    ['>&', '2', []],
    ['>&', '3-', []],
    ['>&', '-', []],
    ['<', '/etc/x', []],
    ['<<', '/etc/x', []],
    ['>', '/dev/null', []],
    ['>', '/proc/self/fd/1', []],
    ['>', `${batch}/x`, []],
    ['>', '/rig/x', ['/rig/x']],
  ];
  for (const [op, target, want] of table) {
    it(`${op} ${target}`, () => assert.deepEqual(blockedWords((b) => checkRedirect({ op, target }, command(), ctx, b)), want));
  }
});
