// Each reader of the mount against special and hostile files, in-process on real files: the
// task store's listing, the record readers, the owners' writes, the decision log, signals, and
// the brain's inbox and agent watch. Companion to mount-files.test.ts (real processes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Brain } from '../../agents/brain/brain.ts';
import { acquireBrainLock, readLockOwner } from '../../agents/brain/lock.ts';
import { readBatchRecord, readBrainState, writeBrainState } from '../../agents/core/batch.ts';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config, loadConfig } from '../../agents/core/config.ts';
import { DecisionLog, type DecisionVerb, MAX_FIELD_CHARS, formatDecision, parseDecisionLine } from '../../agents/core/decisionLog.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { readMountFile } from '../../agents/core/mountRead.ts';
import { heartbeatPath, type MountPaths } from '../../agents/core/paths.ts';
import { readSignals } from '../../agents/core/signals.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const fifo = (p: string) => execFileSync('mkfifo', [p]);
const notes = async (paths: MountPaths, where: string) => {
  const dir = join(paths.quarantine, where);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.why.txt'));
  return Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
};

test('formatDecision: newlines, control characters and huge values from files never make a second line or reach the terminal', () => {
  const line = formatDecision({
    who: 'gpu-0', what: 'ABORT_IGNORED',
    task: 'b1__x\n2026-01-01T00:00:00.000Z brain  RELEASE task=forged',
    batch: 'b\r1\u2028x', reason: `stderr:\nline two\r\n\x1b[31mred\x1b[0m\u202eevil ${'z'.repeat(5000)}`,
  }, Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(line.split(/[\r\n\u2028\u2029\u0085]/).length, 1, 'one line');
  assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u202e]/, 'no control character left');
  assert.match(line, /task=b1__x⏎2026-01-01T00:00:00\.000Z␠brain␠␠RELEASE␠task=forged /);
  assert.match(line, / batch=b⏎1⏎x /);
  assert.match(line, / — stderr:⏎line two⏎\\x1b\[31mred\\x1b\[0m\\u202eevil z+…$/);
  assert.ok(line.length < 2300, 'the reason is cut');
  const d = parseDecisionLine(line);
  assert.equal(d?.who, 'gpu-0');
  assert.equal(d?.what, 'ABORT_IGNORED');
  assert.match(d?.task ?? '', /^b1__x⏎/);
  const long = formatDecision({ who: 'brain', what: 'X' as DecisionVerb, task: 'a'.repeat(1000) }, 0);
  assert.equal(/task=(\S+)/.exec(long)?.[1]?.length, MAX_FIELD_CHARS);
});

test('readMountFile reads to the end of a file whose stat size is wrong (as an NFS client\'s stale cached size), never a torn text of its own', { timeout: 10_000 }, async () => {
  // /proc files stat as 0 bytes and hold more: the stand-in for a size that lags the content.
  const r = await readMountFile(`/proc/${process.pid}/status`, { maxBytes: 1024 * 1024 });
  assert.ok(r.ok);
  assert.match(r.text, /^Name:.*\n[\s\S]*VmRSS:[\s\S]*\n$/);
  const small = await readMountFile(`/proc/${process.pid}/status`, { maxBytes: 100 });
  assert.equal(!small.ok && small.why, 'too_big');
});

test('the task store quarantines FIFOs, directories and symlinks at the first listing, without opening them; other tasks are listed and read', { timeout: 10_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    await store.write('queue', makeTask({ name: 'ok' }));
    fifo(join(paths.folders.queue, 'b1__fifo.json'));
    await symlink('/dev/zero', join(paths.folders.queue, 'b1__zero.json'));
    await mkdir(join(paths.folders.queue, 'b1__dir.json'));
    await mkdir(join(paths.folders.queue, 'junk'));
    await writeFile(join(paths.folders.queue, 'b1__big.json'), Buffer.alloc(2 * 1024 * 1024, 0x7b));
    assert.deepEqual((await store.list('queue')).sort(), ['b1__big', 'b1__ok']);
    assert.deepEqual((await store.readAll('queue')).map((t) => t.name), ['ok']);
    assert.deepEqual(await readdir(paths.folders.queue), ['b1__ok.json']);
    const why = (await notes(paths, 'queue')).join('\n');
    for (const re of [/b1__fifo\.json\nis a FIFO/, /b1__zero\.json\nis a symlink/, /b1__dir\.json\nis a directory/, /junk\nis a directory/, /b1__big\.json\nis 2097152 bytes, over the limit/]) {
      assert.match(why, re);
    }
  } finally {
    await cleanup();
  }
});

test('a task file nobody can read (chmod 000) is not_ready, never stops the others, and is quarantined after the grace', { timeout: 10_000, skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const clock = new ManualClock();
    const store = new TaskStore(paths, { unreadableGraceMs: 30_000, now: () => clock.now() });
    await store.write('queue', makeTask({ name: 'a' }));
    await store.write('queue', makeTask({ name: 'b' }));
    await chmod(store.fileOf('queue', 'b1__a'), 0o000);
    assert.deepEqual((await store.readAll('queue')).map((t) => t.name), ['b']);
    clock.advance(30_000);
    const r = await store.read('queue', 'b1__a');
    assert.equal(!r.ok && r.reason, 'quarantined');
    assert.match((await notes(paths, 'queue')).join(''), /cannot be opened \(EACCES\); unchanged and unreadable for 30 s/);
  } finally {
    await cleanup();
  }
});

test('record readers return nothing for a directory, a FIFO or a symlink, at once; owners move a directory out of their way and write again', { timeout: 10_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await mkdir(paths.brainState);
    await mkdir(join(paths.batches, 'b1.json'));
    await mkdir(join(paths.gpus, 'gpu_0'), { recursive: true });
    fifo(heartbeatPath(paths, 0));
    await mkdir(join(paths.gpus, 'gpu_1'), { recursive: true });
    await symlink('/dev/zero', heartbeatPath(paths, 1));
    assert.equal(await readBrainState(paths), null);
    assert.equal(await readBatchRecord(paths, 'b1'), null);
    assert.equal(await readBatchRecord(paths, '../x'), null);
    assert.equal(await readHeartbeat(paths, 0), null);
    assert.equal(await readHeartbeat(paths, 1), null);
    fifo(paths.config);
    await assert.rejects(loadConfig(paths.config), /config\.json is a FIFO, not a regular file; expected the rig's JSON config file/);
    const moved = await writeBrainState(paths, { active_batches: [], updated_at: 'now', brain_pid: 1 });
    assert.equal(moved, 'brain/state.json was a directory, not a regular file: moved to quarantine/brain/ and written again');
    assert.deepEqual((await readBrainState(paths))?.active_batches, []);
    assert.equal((await notes(paths, 'brain')).length, 1);
  } finally {
    await cleanup();
  }
});

test('the decision log: a FIFO or a directory in its place is moved aside and the line written, never a blocked writer', { timeout: 10_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const log = new DecisionLog(paths.decisionLog, () => 0);
    fifo(paths.decisionLog);
    await log.write({ who: 'brain', what: 'ONE' as DecisionVerb });
    await log.write({ who: 'brain', what: 'TWO' as DecisionVerb });
    assert.equal(await readFile(paths.decisionLog, 'utf8'), '1970-01-01T00:00:00.000Z brain  ONE\n1970-01-01T00:00:00.000Z brain  TWO\n');
    assert.match((await notes(paths, 'logs')).join(''), /was a FIFO, not a regular file: moved aside/);
  } finally {
    await cleanup();
  }
});

test('the brain lock: a FIFO where the owner file goes neither blocks the start nor is trusted', { timeout: 10_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    fifo(`${paths.brainLock}.owner`);
    assert.equal(await readLockOwner(paths), null);
    const lock = await acquireBrainLock(paths, () => {});
    try {
      assert.equal((await readLockOwner(paths))?.pid, process.pid);
      assert.match((await notes(paths, 'brain')).join(''), /brain\.owner was not a regular file: moved aside/);
    } finally {
      await lock.release();
    }
  } finally {
    await cleanup();
  }
});

test('signals: content bounded and a task id or nothing; FIFOs and directories are refused with the reason', { timeout: 10_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeFile(join(paths.signals, 'gpu-0.abort'), 'b1__x\n2026-01-01T00:00:00.000Z brain  FORGED\n');
    await writeFile(join(paths.signals, 'gpu-0.kill'), 'b1__y\n');
    fifo(join(paths.signals, 'gpu-0.stop'));
    await writeFile(join(paths.signals, 'gpu-1.abort'), 'x'.repeat(5000));
    await mkdir(join(paths.signals, 'gpu-1.kill'));
    const byKind = async (agent: string) => Object.fromEntries((await readSignals(paths, agent)).map((s) => [s.kind, s]));
    const g0 = await byKind('gpu-0');
    assert.match(g0.abort?.refused ?? '', /signals\/gpu-0\.abort does not hold one task id/);
    assert.equal(g0.abort?.taskId, null);
    assert.deepEqual([g0.kill?.taskId, g0.kill?.refused], ['b1__y', null]);
    assert.match(g0.stop?.refused ?? '', /signals\/gpu-0\.stop is a FIFO, not a regular file/);
    const g1 = await byKind('gpu-1');
    assert.match(g1.abort?.refused ?? '', /is 5000 bytes, over the limit of 1024/);
    assert.match(g1.kill?.refused ?? '', /is a directory/);
  } finally {
    await cleanup();
  }
});

test('the brain: a FIFO submission is rejected with the reason; a half-written one waits for the grace; garbage in escalations and heartbeats is reported once and the passes go on', { timeout: 20_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });
    const clock = new ManualClock();
    fifo(join(paths.inbox, 'fifo.json'));
    await writeFile(join(paths.inbox, 'half.json'), '{"plan": "no');
    await mkdir(join(paths.brain, 'escalations'), { recursive: true });
    await writeFile(join(paths.brain, 'escalations', 'b1__e.json'), 'null');
    await mkdir(heartbeatPath(paths, 0), { recursive: true });
    const brain = new Brain({ paths, config, clock, say: () => {} });
    await brain.recover();
    for (let i = 0; i < 3; i++) {
      await brain.pass();
      clock.advance(2_000);
    }
    assert.deepEqual((await readdir(paths.inboxRejected)).sort(), ['fifo.json', 'fifo.json.errors.txt']);
    assert.match(await readFile(join(paths.inboxRejected, 'fifo.json.errors.txt'), 'utf8'), /is a FIFO, not a regular file/);
    assert.ok((await readdir(paths.inbox)).includes('half.json'), 'a half-written submission waits');
    clock.advance(30_000);
    await brain.pass();
    assert.ok((await readdir(paths.inboxRejected)).includes('half.json'), 'rejected once unchanged for the grace');
    const log = (await readFile(paths.decisionLog, 'utf8')).split('\n');
    assert.equal(log.filter((l) => / BAD_FILE — brain\/escalations\/b1__e\.json: not an escalation record/.test(l)).length, 1);
    assert.equal(log.filter((l) => / BAD_FILE — gpus\/gpu_0\/heartbeat\.json: is a directory/.test(l)).length, 1);
  } finally {
    await cleanup();
  }
});
