// The doctor judges file ages on the mount's own clock (a probe file's mtime, stamped by the
// file server like every file's), never by this host's Date.now(): a host whose clock is an
// hour off neither calls a fresh temporary, lock or brain lease stale nor an old one fresh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import { mountPaths } from '../../agents/core/paths.ts';
import { examineMount } from '../../agents/doctor/inspect.ts';
import { readMountClock } from '../../agents/doctor/mountClock.ts';
import { applyRepairs } from '../../agents/doctor/repair.ts';
import { tempMount } from '../helpers/mount.ts';

const HOUR = 60 * 60 * 1000;
/** The findings about files (these mounts have no config.json, which is a finding of its own). */
const aboutFiles = <T extends { kind: string }>(findings: T[]) => findings.filter((f) => f.kind !== 'NO_CONFIG');

test('readMountClock: the time of a probe file written on the mount, which leaves nothing behind', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const before = (await readdir(paths.root)).sort();
    const t0 = Date.now();
    const clock = await readMountClock(paths);
    assert.ok(clock.ok);
    // A local file system: the "server" is this host.
    assert.ok(Math.abs(clock.now - t0) < 5000, `${clock.now} vs ${t0}`);
    assert.deepEqual((await readdir(paths.root)).sort(), before);
    const none = await readMountClock(mountPaths(join(paths.root, 'no-such-mount')));
    assert.ok(!none.ok && /cannot write a probe file in .*no-such-mount to read the mount's clock \(ENOENT\)/.test(none.problem));
  } finally {
    await cleanup();
  }
});

test('doctor: with this host\'s clock an hour ahead, fresh leftovers and a renewed brain lease on another host are not stale', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeFile(join(paths.folders.queue, '.b1__a.json.1.aa.tmp'), '{');
    await writeFile(join(paths.approvals, 'b0__gone'), '');
    await mkdir(join(paths.gpus, '.model-load.lock'));
    await mkdir(`${paths.brainLock}.lock`);
    await writeJsonAtomic(`${paths.brainLock}.owner`, { pid: 1, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z', seq: 42, token: 'feedfacecafebeef' });
    const { snapshot, findings } = await examineMount(paths, () => Date.now() + HOUR);
    assert.deepEqual(aboutFiles(findings).map((f) => f.kind), []);
    assert.equal(snapshot.clockProblem, null);
    assert.deepEqual(snapshot.brain, { running: true, why: 'brain/brain.lock held by pid 1 on elsewhere' });
    assert.ok(snapshot.tempFiles.every((f) => f.ageMs < 60_000));
  } finally {
    await cleanup();
  }
});

test('doctor: with this host\'s clock an hour behind, an hour-old temporary and a lease unrenewed for an hour are found, and repaired', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const hourAgo = new Date(Date.now() - HOUR);
    const temp = join(paths.folders.queue, '.b1__a.json.1.aa.tmp');
    await writeFile(temp, '{');
    await utimes(temp, hourAgo, hourAgo);
    await mkdir(`${paths.brainLock}.lock`);
    await writeJsonAtomic(`${paths.brainLock}.owner`, { pid: 1, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z', seq: 42, token: 'feedfacecafebeef' });
    await utimes(`${paths.brainLock}.owner`, hourAgo, hourAgo);
    // Its holder's clock was a year ahead when it last touched the lock folder: the lease decides.
    const yearAhead = new Date(Date.now() + 365 * 24 * HOUR);
    await utimes(`${paths.brainLock}.lock`, yearAhead, yearAhead);
    const behind = () => Date.now() - HOUR;
    const { snapshot, findings } = await examineMount(paths, behind);
    assert.equal(snapshot.brain.running, false);
    assert.match(snapshot.brain.why, /^brain\/brain\.lock of pid 1 on elsewhere: its lease not renewed for 36\d\d s$/);
    assert.deepEqual(aboutFiles(findings).map((f) => `${f.kind} ${f.subject}`), ['TEMP_FILE tasks/queue/.b1__a.json.1.aa.tmp', 'STALE_LOCK brain/brain.lock']);
    const outcomes = await applyRepairs(paths, aboutFiles(findings), behind);
    assert.deepEqual(outcomes.map((o) => o.status), ['repaired', 'repaired']);
    assert.deepEqual(await readdir(paths.folders.queue), []);
    assert.ok(!(await readdir(paths.brain)).includes('brain.lock'));
  } finally {
    await cleanup();
  }
});

test('doctor --repair leaves a lock alone whose lease was renewed since the inspection', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const hourAgo = new Date(Date.now() - HOUR);
    await mkdir(`${paths.brainLock}.lock`);
    await writeJsonAtomic(`${paths.brainLock}.owner`, { pid: 1, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z', seq: 42, token: 'feedfacecafebeef' });
    await utimes(`${paths.brainLock}.owner`, hourAgo, hourAgo);
    await utimes(`${paths.brainLock}.lock`, hourAgo, hourAgo);
    const { findings } = await examineMount(paths);
    assert.deepEqual(aboutFiles(findings).map((f) => f.kind), ['STALE_LOCK']);
    // The holder renews its lease (seq 43) before the repair.
    await writeJsonAtomic(`${paths.brainLock}.owner`, { pid: 1, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z', seq: 43, token: 'feedfacecafebeef' });
    const [outcome] = await applyRepairs(paths, findings);
    assert.equal(outcome?.status, 'resolved');
    assert.match(outcome?.note ?? '', /brain\/brain\.lock was refreshed meanwhile: its holder is alive/);
    assert.ok((await readdir(paths.brain)).includes('brain.lock'));
  } finally {
    await cleanup();
  }
});
