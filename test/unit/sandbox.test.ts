// The sandbox's pure parts: bwrap's options, the batch folder's shape, the mode decision,
// and reading back bwrap's status and start failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { bwrapArgs, decideSandbox, isBatchFolder } from '../../agents/worker/sandbox.ts';
import { bwrapStartFailure, fromBwrapExit, parseBwrapStatus } from '../../agents/worker/sandboxRun.ts';

const TAIL = ['--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--new-session', '--die-with-parent'];

test('bwrapArgs: read-only root, minimal /dev with the GPU nodes, fresh /proc, private /tmp, the batch folder writable', () => {
  const args = bwrapArgs({
    mountRoot: '/srv/shared',
    cwd: '/srv/shared/plans/p',
    batchPath: '/srv/shared/plans/p/batches/b1',
    devices: ['/dev/nvidia0', '/dev/nvidiactl', '/dev/nvidia-uvm'],
  });
  assert.deepEqual(args, [
    '--ro-bind', '/', '/', '--dev', '/dev',
    '--dev-bind-try', '/dev/nvidia0', '/dev/nvidia0',
    '--dev-bind-try', '/dev/nvidiactl', '/dev/nvidiactl',
    '--dev-bind-try', '/dev/nvidia-uvm', '/dev/nvidia-uvm',
    '--proc', '/proc', '--tmpfs', '/tmp',
    '--bind', '/srv/shared/plans/p/batches/b1', '/srv/shared/plans/p/batches/b1',
    ...TAIL, '--chdir', '/srv/shared/plans/p',
  ]);
});

test('bwrapArgs: a mount under /tmp comes back read-only over the private /tmp, before the batch folder', () => {
  const args = bwrapArgs({ mountRoot: '/tmp/m', cwd: '/tmp/m/plans/p', batchPath: '/tmp/m/plans/p/batches/b1', devices: [] });
  assert.deepEqual(args, [
    '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp',
    '--ro-bind', '/tmp/m', '/tmp/m',
    '--bind', '/tmp/m/plans/p/batches/b1', '/tmp/m/plans/p/batches/b1',
    ...TAIL, '--chdir', '/tmp/m/plans/p',
  ]);
  // A working directory under /tmp outside the mount comes back too; /tmp itself never does.
  const other = bwrapArgs({ mountRoot: '/tmp', cwd: '/tmp/plan', batchPath: '/srv/b', devices: [] });
  assert.deepEqual(other.slice(9, 12), ['--ro-bind', '/tmp/plan', '/tmp/plan']);
  assert.equal(other.filter((a) => a === '--ro-bind').length, 2);
});

test('isBatchFolder: exactly <plans>/<plan>/batches/<batch>, safe names', () => {
  const plans = '/m/plans';
  for (const ok of ['/m/plans/p/batches/b1', '/m/plans/video-2/batches/20260101-abc']) assert.equal(isBatchFolder(ok, plans), true, ok);
  for (const bad of ['/', '/m', '/m/plans', '/m/plans/p', '/m/plans/p/batches', '/m/plans/p/other/b1', '/m/plans/p/batches/b1/x',
    '/m/brain/private_tasks', '/etc', '/m/plans/../brain/batches/b', '/m/plans/.p/batches/b1', '/m/plans2/p/batches/b1']) {
    assert.equal(isBatchFolder(bad, plans), false, bad);
  }
});

test('decideSandbox: off, auto and require, with and without a working bwrap', () => {
  const works = { ok: true } as const;
  const missing = { ok: false, reason: '/usr/bin/bwrap does not exist' } as const;
  const cfg = (mode: 'auto' | 'require' | 'off') => ({ mode, bwrap_path: '/usr/bin/bwrap' });
  assert.deepEqual(decideSandbox(cfg('off'), null), { run: 'uncontained', why: 'sandbox.mode is "off" in config.json' });
  assert.deepEqual(decideSandbox(cfg('auto'), works), { run: 'sandboxed' });
  assert.deepEqual(decideSandbox(cfg('require'), works), { run: 'sandboxed' });
  assert.deepEqual(decideSandbox(cfg('auto'), missing), {
    run: 'uncontained',
    why: 'bubblewrap cannot run here (/usr/bin/bwrap does not exist) and sandbox.mode is "auto"; install the Debian package bubblewrap to contain tasks',
  });
  assert.deepEqual(decideSandbox(cfg('require'), missing), {
    run: 'refused',
    reason:
      'sandbox.mode is "require" in config.json, but bubblewrap cannot run here: /usr/bin/bwrap does not exist. ' +
      'Install the Debian package bubblewrap (apt-get install bubblewrap), or point sandbox.bwrap_path at bwrap, ' +
      'or set sandbox.mode to "auto" to run tasks uncontained',
  });
});

test('config: sandbox defaults, and a bad mode named with its allowed values', () => {
  const gpus = [{ id: 0, name: 'g', model: 'm', port: 1 }];
  assert.deepEqual(Config.parse({ gpus }).sandbox, { mode: 'auto', bwrap_path: '/usr/bin/bwrap', user: null });
  assert.equal(Config.parse({ gpus, sandbox: { user: 'forge-task' } }).sandbox.user, 'forge-task');
  assert.equal(Config.parse({ gpus, sandbox: { user: 1500 } }).sandbox.user, 1500);
  const bad = Config.safeParse({ gpus, sandbox: { mode: 'on' } });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error?.issues), /"auto".*"require".*"off"/);
});

test('parseBwrapStatus: the child pid and pid namespace, then the exit code; other lines skipped', () => {
  const started = '{ "child-pid": 4343, "mnt-namespace": 4026532178, "pid-namespace": 4026532180 }\n';
  assert.deepEqual(parseBwrapStatus(''), { childPid: null, pidNamespace: null, exitCode: null });
  assert.deepEqual(parseBwrapStatus(started), { childPid: 4343, pidNamespace: 4026532180, exitCode: null });
  assert.deepEqual(parseBwrapStatus(started + 'garbage\n{ "exit-code": 137 }\n'), { childPid: 4343, pidNamespace: 4026532180, exitCode: 137 });
  assert.deepEqual(parseBwrapStatus('{ "child-pid": 4343'), { childPid: null, pidNamespace: null, exitCode: null }, 'a half-written line');
});

test('fromBwrapExit: 128 + n is signal n, anything else an exit code', () => {
  assert.deepEqual(fromBwrapExit(0), { exitCode: 0, signal: null });
  assert.deepEqual(fromBwrapExit(3), { exitCode: 3, signal: null });
  assert.deepEqual(fromBwrapExit(128), { exitCode: 128, signal: null });
  assert.deepEqual(fromBwrapExit(137), { exitCode: null, signal: 'SIGKILL' });
  assert.deepEqual(fromBwrapExit(143), { exitCode: null, signal: 'SIGTERM' });
  assert.deepEqual(fromBwrapExit(255), { exitCode: 255, signal: null });
});

test("bwrapStartFailure: bwrap's execvp errors become ENOENT and EACCES, anything else is the sandbox's", () => {
  assert.deepEqual(bwrapStartFailure('bwrap: execvp nosuch: No such file or directory\n', 'nosuch'), {
    code: 'ENOENT', message: 'bwrap: execvp nosuch: No such file or directory',
  });
  assert.deepEqual(bwrapStartFailure('bwrap: execvp /etc/passwd: Permission denied\n', '/etc/passwd'), {
    code: 'EACCES', message: 'bwrap: execvp /etc/passwd: Permission denied',
  });
  assert.deepEqual(bwrapStartFailure('bwrap: Can\'t chdir to /x: No such file or directory\n', 'sh'), {
    code: 'SANDBOX', message: 'bwrap: Can\'t chdir to /x: No such file or directory',
  });
  assert.deepEqual(bwrapStartFailure('', 'sh'), { code: 'SANDBOX', message: 'bwrap ended before the task started, without saying why' });
  // Another command's name in the message is not this command missing.
  assert.equal(bwrapStartFailure('bwrap: execvp other: No such file or directory\n', 'sh').code, 'SANDBOX');
});
