import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutorPolicy } from '../../agents/core/config.ts';
import { checkName, nameCandidates, pythonModule } from '../../agents/worker/policyNames.ts';
import type { Command, Finding } from '../../agents/worker/policyTypes.ts';

const command = (via: string | null = null): Command =>
  ({ words: [], redirects: [], shell: false, cwds: ['/w'], via, stdinOperands: false, depth: 0 });

describe('nameCandidates', () => {
  it('lists a name under its plain forms', () => {
    const table: Array<[string, string[]]> = [
      ['curl', ['curl']],
      ['pip3.11', ['pip3.11', 'pip', 'pip3']],
      ['python3', ['python3', 'python']],
      ['mkfs.ext4', ['mkfs.ext4', 'mkfs.ext', 'mkfs']],
      ['apt-get', ['apt-get']],
      ['node-20', ['node-20', 'node']],
      ['7z', ['7z']],
      ['pip3-1', ['pip3-1', 'pip3', 'pip']],
    ];
    for (const [name, want] of table) assert.deepEqual(nameCandidates(name), want, name);
  });
});

describe('checkName', () => {
  const policy = ExecutorPolicy.parse({ blocked_commands: ['sudo', 'both'], network_commands: ['curl', 'both', 'pip3'], approval_commands: ['pip', 'both'] });
  const table: Array<{ name: string; via?: string; want: Finding[] }> = [
    { name: 'ls', want: [] },
    { name: 'sudo', want: [{ verdict: 'BLOCKED', word: 'sudo', reason: 'blocked: "sudo" is a blocked command (executor.blocked_commands in config.json)' }] },
    { name: 'curl', via: 'sh -c', want: [{ verdict: 'BLOCKED', word: 'curl', reason: 'blocked: "curl" is a network tool (executor.network_commands in config.json), inside "sh -c"' }] },
    { name: 'pip', want: [{ verdict: 'NEEDS_APPROVAL', word: 'pip', reason: 'needs approval: "pip" must be approved by a person first (executor.approval_commands in config.json)' }] },
    // The first list that matches decides: blocked, then network, then approval.
    { name: 'both', want: [{ verdict: 'BLOCKED', word: 'both', reason: 'blocked: "both" is a blocked command (executor.blocked_commands in config.json)' }] },
    { name: 'pip3.9', want: [{ verdict: 'BLOCKED', word: 'pip3.9', reason: 'blocked: "pip3.9" is a network tool (executor.network_commands in config.json)' }] },
    { name: 'sudo2', want: [{ verdict: 'BLOCKED', word: 'sudo2', reason: 'blocked: "sudo2" is a blocked command (executor.blocked_commands in config.json)' }] },
  ];
  for (const c of table) {
    it(`${c.name}${c.via ? ` inside ${c.via}` : ''}`, () => {
      const out: Finding[] = [];
      checkName(c.name, policy, command(c.via ?? null), out);
      assert.deepEqual(out, c.want);
    });
  }
});

describe('pythonModule', () => {
  it('finds the module of python -m, and nothing when python runs a file or -c code', () => {
    const table: Array<[string[], string | null]> = [
      [['-m', 'pip', 'install'], 'pip'],
      [['-mpip'], 'pip'],
      [['-u', '-m', 'pip'], 'pip'],
      [['-Bmpip'], 'pip'],
      [['-Im', 'pip', 'install', 'x'], 'pip'],
      [['-IBm', 'pip'], 'pip'],
      [['-Wm', 'x.py'], null],
      [['-m'], null],
      [['-c', 'import pip', '-m', 'pip'], null],
      [['x.py', '-m', 'pip'], null],
      [['--check-hash-based-pycs', 'always', '-m', 'pip'], null],
      [[], null],
    ];
    for (const [args, want] of table) assert.equal(pythonModule(args), want, args.join(' '));
  });
});
