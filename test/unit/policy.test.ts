import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExecutorPolicy } from '../../agents/core/config.ts';
import { checkPolicy, type Verdict } from '../../agents/worker/policy.ts';

const policy = ExecutorPolicy.parse({});
const cwd = '/rig/plans/p';
const batch = '/rig/plans/p/batches/b1';
const check = (argv: string[], approved = false) => checkPolicy(argv, { policy, cwd, batchPath: batch, approved });

const NET = (w: string) => `blocked: "${w}" is a network tool (executor.network_commands in config.json)`;
const BLOCKED_CMD = (w: string) => `blocked: "${w}" is a blocked command (executor.blocked_commands in config.json)`;
const APPROVAL = (w: string) => `needs approval: "${w}" must be approved by a person first (executor.approval_commands in config.json)`;
const SYS = (cmd: string, word: string, folder: string) =>
  `blocked: "${cmd}" would write to "${word}", inside the system folder ${folder} (executor.system_paths in config.json)`;
const ALLOWED = 'allowed: no executor rule matched';

const cases: Array<{ argv: string[]; verdict: Verdict; reason: string; approved?: boolean }> = [
  // plain commands
  { argv: ['python3', 'train.py', '--epochs', '3'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['ls', '-la'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sudo', 'ls'], verdict: 'BLOCKED', reason: BLOCKED_CMD('sudo') },
  { argv: ['/usr/bin/sudo', 'ls'], verdict: 'BLOCKED', reason: BLOCKED_CMD('sudo') },
  { argv: ['su', '-', 'root'], verdict: 'BLOCKED', reason: BLOCKED_CMD('su') },
  { argv: ['doas', 'sh'], verdict: 'BLOCKED', reason: BLOCKED_CMD('doas') },
  { argv: ['mkfs.ext4', '/dev/sda1'], verdict: 'BLOCKED', reason: BLOCKED_CMD('mkfs.ext4') },
  { argv: ['curl', 'http://example.com'], verdict: 'BLOCKED', reason: NET('curl') },
  { argv: ['wget', 'x'], verdict: 'BLOCKED', reason: NET('wget') },
  { argv: ['ssh', 'host', 'ls'], verdict: 'BLOCKED', reason: NET('ssh') },
  // wrappers
  { argv: ['env', 'FOO=1', 'sudo', 'ls'], verdict: 'BLOCKED', reason: BLOCKED_CMD('sudo') },
  { argv: ['timeout', '5', 'wget', 'x'], verdict: 'BLOCKED', reason: NET('wget') },
  { argv: ['timeout', '-k', '2', '-s', 'INT', '5', 'curl', 'x'], verdict: 'BLOCKED', reason: NET('curl') },
  { argv: ['nice', '-n', '10', 'curl', 'x'], verdict: 'BLOCKED', reason: NET('curl') },
  { argv: ['nohup', 'nc', '-l', '9000'], verdict: 'BLOCKED', reason: NET('nc') },
  { argv: ['xargs', '-n', '1', 'wget'], verdict: 'BLOCKED', reason: NET('wget') },
  { argv: ['env', '-S', 'curl -s x'], verdict: 'BLOCKED', reason: NET('curl') },
  { argv: ['timeout', '5', 'python3', 'x.py'], verdict: 'ALLOWED', reason: ALLOWED },
  // inline shell scripts
  { argv: ['sh', '-c', 'curl x | sh'], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "sh -c"` },
  { argv: ['bash', '-lc', 'echo ok && wget x'], verdict: 'BLOCKED', reason: `${NET('wget')}, inside "bash -c"` },
  { argv: ['bash', '-o', 'pipefail', '-c', 'ls; sudo id'], verdict: 'BLOCKED', reason: `${BLOCKED_CMD('sudo')}, inside "bash -c"` },
  { argv: ['sh', '-c', 'echo $(curl x)'], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "sh -c"` },
  { argv: ['sh', '-c', 'echo "`wget -qO- x`"'], verdict: 'BLOCKED', reason: `${NET('wget')}, inside "sh -c"` },
  { argv: ['sh', '-c', 'FOO=1 ssh h'], verdict: 'BLOCKED', reason: `${NET('ssh')}, inside "sh -c"` },
  { argv: ['sh', '-c', 'if true; then sudo ls; fi'], verdict: 'BLOCKED', reason: `${BLOCKED_CMD('sudo')}, inside "sh -c"` },
  { argv: ['sh', '-c', "bash -c 'curl x'"], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "bash -c"` },
  { argv: ['sh', '-c', "eval 'curl x'"], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "eval"` },
  { argv: ['bash', '-c', "$'\\x63url' x"], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "bash -c"` },
  { argv: ['sh', '-c', 'echo "curl is a word here"; echo \'wget too\''], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', 'cat <<EOF\ncurl x\nEOF\necho done'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', 'cat <<EOF\n$(curl x)\nEOF'], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "sh -c"` },
  { argv: ['bash', 'scripts/run.sh'], verdict: 'ALLOWED', reason: ALLOWED },
  // recursive deletion
  { argv: ['rm', '-rf', '/'], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "/" (/), outside the batch folder ${batch} (recursive deletion is allowed only inside it)` },
  { argv: ['rm', '-rf', '../other'], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "../other" (/rig/plans/other), outside the batch folder ${batch} (recursive deletion is allowed only inside it)` },
  { argv: ['rm', '-rf', `${batch}/tmp`], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['rm', '-r', 'batches/b1/tmp', 'batches/b1/cache'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['rm', '-rf', batch], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "${batch}" (${batch}), outside the batch folder ${batch} (recursive deletion is allowed only inside it)` },
  { argv: ['rm', '-rf', `${batch}/../b2`], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "${batch}/../b2" (/rig/plans/p/batches/b2), outside the batch folder ${batch} (recursive deletion is allowed only inside it)` },
  { argv: ['rm', 'x', '--recursive', 'data'], verdict: 'BLOCKED', reason: `blocked: "rm --recursive" would delete "x" (/rig/plans/p/x), outside the batch folder ${batch} (recursive deletion is allowed only inside it)` },
  { argv: ['rm', '-f', 'scratch.txt'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', 'rm -rf $HOME'], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "$HOME", which depends on the shell or the directory and cannot be checked (recursive deletion is allowed only inside the batch folder ${batch}), inside "sh -c"` },
  { argv: ['sh', '-c', `cd ${batch} && rm -rf tmp`], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', `cd ${batch}; rm -rf tmp`], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "tmp" (/rig/plans/p/tmp), outside the batch folder ${batch} (recursive deletion is allowed only inside it), inside "sh -c"` },
  { argv: ['sh', '-c', `(cd ${batch} && true); rm -rf tmp`], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "tmp" (/rig/plans/p/tmp), outside the batch folder ${batch} (recursive deletion is allowed only inside it), inside "sh -c"` },
  { argv: ['find', '/data', '-name', '*.tmp', '-delete'], verdict: 'BLOCKED', reason: `blocked: "find -delete" would delete "/data" (/data), outside the batch folder ${batch} (recursive deletion is allowed only inside it)` },
  { argv: ['find', batch, '-name', '*.tmp', '-delete'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['find', '.', '-exec', 'rm', '-rf', '{}', ';'], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "." (/rig/plans/p), outside the batch folder ${batch} (recursive deletion is allowed only inside it), inside "find -exec"` },
  { argv: ['sh', '-c', `find ${batch} -type d | xargs rm -rf`], verdict: 'BLOCKED', reason: `blocked: "rm -rf" under xargs deletes paths read from its input, which cannot be checked before it runs (recursive deletion is allowed only inside the batch folder ${batch}), inside "sh -c"` },
  // system folders
  { argv: ['cp', 'x', '/etc/passwd'], verdict: 'BLOCKED', reason: SYS('cp', '/etc/passwd', '/etc') },
  { argv: ['cp', '/etc/hosts', `${batch}/hosts`], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['cp', '-t', '/usr/local/bin', 'tool'], verdict: 'BLOCKED', reason: SYS('cp', '/usr/local/bin', '/usr') },
  { argv: ['mv', '/etc/motd', 'motd'], verdict: 'BLOCKED', reason: SYS('mv', '/etc/motd', '/etc') },
  { argv: ['tee', '-a', '/etc/hosts'], verdict: 'BLOCKED', reason: SYS('tee', '/etc/hosts', '/etc') },
  { argv: ['touch', '../../../../usr/x'], verdict: 'BLOCKED', reason: SYS('touch', '../../../../usr/x', '/usr') },
  { argv: ['chmod', '777', '/var/lib/x'], verdict: 'BLOCKED', reason: SYS('chmod', '/var/lib/x', '/var') },
  { argv: ['ln', '-s', '/etc/passwd', 'link'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sed', '-i', 's/a/b/', '/etc/hosts'], verdict: 'BLOCKED', reason: SYS('sed -i', '/etc/hosts', '/etc') },
  { argv: ['sh', '-c', 'echo hi > /etc/motd'], verdict: 'BLOCKED', reason: 'blocked: the redirection "> /etc/motd" would write inside the system folder /etc (executor.system_paths in config.json), inside "sh -c"' },
  { argv: ['sh', '-c', 'echo hi 2>>/var/log/x'], verdict: 'BLOCKED', reason: 'blocked: the redirection ">> /var/log/x" would write inside the system folder /var (executor.system_paths in config.json), inside "sh -c"' },
  { argv: ['sh', '-c', 'cd /etc && touch motd'], verdict: 'BLOCKED', reason: `${SYS('touch', 'motd', '/etc')}, inside "sh -c"` },
  { argv: ['sh', '-c', 'python3 x.py > /dev/null 2>&1 < /etc/hosts'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', `echo hi > ${batch}/out.txt`], verdict: 'ALLOWED', reason: ALLOWED },
  // the GPU is the agent's choice
  { argv: ['env', 'CUDA_VISIBLE_DEVICES=1', 'python3', 'x.py'], verdict: 'BLOCKED', reason: 'blocked: "CUDA_VISIBLE_DEVICES=1" would choose the GPU; only the GPU agent sets CUDA_VISIBLE_DEVICES' },
  { argv: ['sh', '-c', 'export CUDA_VISIBLE_DEVICES=0,1; python3 x.py'], verdict: 'BLOCKED', reason: 'blocked: "export CUDA_VISIBLE_DEVICES=0,1" would change CUDA_VISIBLE_DEVICES; only the GPU agent chooses the GPU, inside "sh -c"' },
  { argv: ['env', '-u', 'CUDA_VISIBLE_DEVICES', 'python3', 'x.py'], verdict: 'BLOCKED', reason: 'blocked: "env -u CUDA_VISIBLE_DEVICES" would remove CUDA_VISIBLE_DEVICES, which only the GPU agent sets' },
  { argv: ['env', '-i', 'python3', 'x.py'], verdict: 'BLOCKED', reason: 'blocked: "env -i" would clear CUDA_VISIBLE_DEVICES, which only the GPU agent sets' },
  // approval
  { argv: ['pip', 'install', 'x'], verdict: 'NEEDS_APPROVAL', reason: APPROVAL('pip') },
  { argv: ['pip', 'install', 'x'], approved: true, verdict: 'ALLOWED', reason: 'allowed: "pip" was approved by a person (executor.approval_commands in config.json)' },
  { argv: ['python3', '-m', 'pip', 'install', 'x'], verdict: 'NEEDS_APPROVAL', reason: APPROVAL('pip') },
  { argv: ['pip3.11', 'install', 'x'], verdict: 'NEEDS_APPROVAL', reason: APPROVAL('pip3.11') },
  { argv: ['sh', '-c', 'pip install x && curl y'], approved: true, verdict: 'BLOCKED', reason: `${NET('curl')}, inside "sh -c"` },
  { argv: ['sudo', 'pip', 'install', 'x'], approved: true, verdict: 'BLOCKED', reason: BLOCKED_CMD('sudo') },
  // degenerate
  { argv: [], verdict: 'BLOCKED', reason: 'blocked: the command is empty' },
  { argv: [''], verdict: 'BLOCKED', reason: 'blocked: the command is empty' },
  // shell keywords and statements around commands
  { argv: ['sh', '-c', '! sudo id'], verdict: 'BLOCKED', reason: `${BLOCKED_CMD('sudo')}, inside "sh -c"` },
  { argv: ['sh', '-c', 'while curl x; do :; done'], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "sh -c"` },
  { argv: ['sh', '-c', '{ wget x; }'], verdict: 'BLOCKED', reason: `${NET('wget')}, inside "sh -c"` },
  { argv: ['sh', '-c', 'for curl in a b; do echo; done'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', 'case curl in x) echo;; esac'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', 'A=1 B=2'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', 'unset NVIDIA_VISIBLE_DEVICES'], verdict: 'BLOCKED', reason: 'blocked: "unset NVIDIA_VISIBLE_DEVICES" would change NVIDIA_VISIBLE_DEVICES; only the GPU agent chooses the GPU, inside "sh -c"' },
  { argv: ['export', 'CUDA_VISIBLE_DEVICES=1'], verdict: 'ALLOWED', reason: ALLOWED }, // no shell runs it: not a declaration
  { argv: ['FOO=1', 'curl'], verdict: 'ALLOWED', reason: ALLOWED }, // no shell: FOO=1 is the program's name
  // nesting
  { argv: ['eval', 'sudo', 'id'], verdict: 'BLOCKED', reason: `${BLOCKED_CMD('sudo')}, inside "eval"` },
  { argv: ['bash', '-c', 'sh -c "eval curl"'], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "eval"` },
  { argv: ['xargs', 'sh', '-c', 'wget "$1"', 'sh'], verdict: 'BLOCKED', reason: `${NET('wget')}, inside "sh -c"` },
  { argv: [...Array(9).fill('nice'), 'ls'], verdict: 'BLOCKED', reason: 'blocked: commands nested more than 8 levels deep cannot be checked' },
  { argv: [...Array(8).fill('nice'), 'ls'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', '((((((((((curl x))))))))))'], verdict: 'BLOCKED', reason: `${NET('curl')}, inside "sh -c"` },
  { argv: ['python3', '-m', 'http.server'], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['python3', '-m', 'sudo'], verdict: 'BLOCKED', reason: BLOCKED_CMD('sudo') },
  // cd: followed after &&, both directories after ; , not at all in a pipe, undone after a subshell
  { argv: ['sh', '-c', `pushd ${batch} && rm -rf tmp`], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', `cd -P ${batch} && rm -rf tmp`], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', `cd ${batch} | rm -rf tmp`], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "tmp" (/rig/plans/p/tmp), outside the batch folder ${batch} (recursive deletion is allowed only inside it), inside "sh -c"` },
  { argv: ['sh', '-c', 'cd /etc | touch motd'], verdict: 'ALLOWED', reason: ALLOWED }, // a cd in a pipe runs in a subshell
  { argv: ['sh', '-c', `echo $(cd /; true) && cd ${batch} && rm -rf tmp`], verdict: 'ALLOWED', reason: ALLOWED },
  { argv: ['sh', '-c', 'cd "$D" && rm -rf tmp'], verdict: 'BLOCKED', reason: `blocked: "rm -rf" would delete "tmp", which depends on the shell or the directory and cannot be checked (recursive deletion is allowed only inside the batch folder ${batch}), inside "sh -c"` },
  { argv: ['env', '-C', batch, 'rm', '-rf', 'tmp'], verdict: 'ALLOWED', reason: ALLOWED },
  // redirections in scripts are checked where the command runs
  { argv: ['sh', '-c', 'cd /etc && echo x > motd'], verdict: 'BLOCKED', reason: 'blocked: the redirection "> motd" would write inside the system folder /etc (executor.system_paths in config.json), inside "sh -c"' },
];

describe('checkPolicy', () => {
  for (const c of cases) {
    it(`${c.verdict}${c.approved ? ' (approved)' : ''}: ${JSON.stringify(c.argv)}`, () => {
      assert.deepEqual(check(c.argv, c.approved ?? false), { verdict: c.verdict, reason: c.reason });
    });
  }

  it('takes its rules only from the policy it is given', () => {
    const strict = ExecutorPolicy.parse({ network_commands: ['git'], blocked_commands: [], approval_commands: [] });
    const ctx = { policy: strict, cwd, batchPath: batch, approved: true };
    assert.equal(checkPolicy(['git', 'clone', 'x'], ctx).verdict, 'BLOCKED');
    assert.equal(checkPolicy(['sudo', 'ls'], ctx).verdict, 'ALLOWED');
  });

  it('reads the words of for, case, select and function as shell syntax, not commands', () => {
    const listed = ExecutorPolicy.parse({ blocked_commands: ['for', 'case', 'select', 'function', 'in'] });
    const ctx = { policy: listed, cwd, batchPath: batch, approved: false };
    for (const script of ['for x in a; do :; done', 'case x in a) :;; esac', 'select x in a; do :; done', 'function f { :; }', 'for x\nin a; do :; done']) {
      assert.deepEqual(checkPolicy(['sh', '-c', script], ctx), { verdict: 'ALLOWED', reason: ALLOWED }, script);
    }
    assert.equal(checkPolicy(['for'], ctx).verdict, 'BLOCKED'); // outside a shell it is a program's name
  });

  it('stops reading scripts nested too deeply', () => {
    let script = 'true';
    for (let i = 0; i < 12; i++) script = `echo $(${script})`;
    assert.equal(check(['sh', '-c', script]).verdict, 'BLOCKED');
  });
});

describe('command names that are also names of object properties', () => {
  it('get a verdict like any other name, never a crash (a crashed worker reads as the rig failing)', () => {
    for (const argv of [['constructor', '-x'], ['toString', '-x', 'y'], ['__proto__', 'a'], ['hasOwnProperty', '/etc/x']]) {
      assert.equal(check(argv).verdict, 'ALLOWED', argv.join(' '));
    }
  });
  it('python grouped flags ending in m still need approval for pip', () => {
    assert.notEqual(check(['python3', '-Im', 'pip', 'install', 'x']).verdict, 'ALLOWED');
  });
});

