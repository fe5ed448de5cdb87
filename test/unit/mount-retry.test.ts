// Reads of shared files that fail for a moment (ESTALE, EIO, a file not visible yet through a
// stale NFS cache) are read again for a while before any verdict, and a give-up says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MountFail, type MountRead, readMountFile, retryTransient } from '../../agents/core/mountRead.ts';
import { readHeartbeatFile } from '../../agents/core/heartbeat.ts';
import { readSubmission } from '../../agents/core/inbox.ts';
import { heartbeatPath } from '../../agents/core/paths.ts';
import { readManifestItems } from '../../agents/plan/expand.ts';
import { tempMount } from '../helpers/mount.ts';

const fail = (code: string, why: MountFail['why'] = 'unreadable'): MountFail => ({ ok: false, why, detail: `/m/f cannot be opened (${code})`, code });

/** A fake clock and sleep: retries take no real time. */
function fakeTime() {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => { slept.push(ms); t += ms; }, slept };
}

/** A reader that gives these results in turn, then the last one for ever. */
function scripted(results: MountRead[]): { read: () => Promise<MountRead>; calls: () => number } {
  let n = 0;
  return { read: async () => results[Math.min(n++, results.length - 1)]!, calls: () => n };
}

test('retryTransient: ESTALE and EIO are read again until the file reads', async () => {
  const time = fakeTime();
  const s = scripted([fail('ESTALE', 'missing'), fail('EIO'), { ok: true, text: 'x', size: 1 }]);
  const r = await retryTransient(s.read, { now: time.now, sleep: time.sleep });
  assert.deepEqual(r, { ok: true, text: 'x', size: 1 });
  assert.equal(s.calls(), 3);
  assert.deepEqual(time.slept, [50, 100], 'growing pauses');
});

test('retryTransient: a failure that keeps coming is given up after giveUpMs, and the result says so', async () => {
  const time = fakeTime();
  const s = scripted([fail('EIO')]);
  const r = await retryTransient(s.read, { giveUpMs: 2000, now: time.now, sleep: time.sleep });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(time.now(), 2000, 'gave up at the give-up time, not before');
  assert.ok(s.calls() >= 3 && s.calls() <= 10, `a few tries (${s.calls()})`);
  assert.deepEqual(r.retried, { tries: s.calls(), forMs: 2000 });
  assert.equal(r.detail, `/m/f cannot be opened (EIO) (failed ${s.calls()} reads over 2.0 s; gave up)`);
});

test('retryTransient: lasting failures are not retried; a missing file only with missingToo', async () => {
  const time = fakeTime();
  for (const f of [fail('EACCES'), { ok: false as const, why: 'not_a_file' as const, detail: 'a FIFO' }, fail('ENOENT', 'missing')]) {
    const s = scripted([f]);
    assert.deepEqual(await retryTransient(s.read, { now: time.now, sleep: time.sleep }), f);
    assert.equal(s.calls(), 1);
  }
  const s = scripted([fail('ENOENT', 'missing'), fail('ENOENT', 'missing'), { ok: true, text: 'late', size: 4 }]);
  assert.equal((await retryTransient(s.read, { missingToo: true, now: time.now, sleep: time.sleep })).ok, true);
  assert.equal(s.calls(), 3);
  assert.equal(time.slept.length, 2, 'nothing slept for the lasting failures');
});

test('readMountFile with retry: a file that appears after a delay is read; without missingToo it is missing at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-retry-'));
  try {
    const file = join(dir, 'late.json');
    const t0 = performance.now();
    assert.equal((await readMountFile(file, { maxBytes: 100, retry: {} })).ok, false);
    assert.ok(performance.now() - t0 < 200, 'ENOENT is not retried unless asked');
    setTimeout(() => void writeFile(file, '{"late":true}'), 300);
    const r = await readMountFile(file, { maxBytes: 100, retry: { missingToo: true } });
    assert.deepEqual(r, { ok: true, text: '{"late":true}', size: 13 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('readManifestItems: a transient EIO is read again; one that keeps failing fails after the give-up time, saying so', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'forge-manifest-retry-'));
  try {
    const file = join(dir, 'm.json');
    await writeFile(file, '{"items": [1, 2]}');
    let calls = 0;
    const flaky = async (path: string, folder: string, o: { maxBytes: number }): Promise<MountRead> => {
      calls += 1;
      if (calls <= 2) return { ok: false, why: 'unreadable', detail: `${path} cannot be read (EIO)`, code: 'EIO' };
      const { readMountFileInside } = await import('../../agents/core/mountRead.ts');
      return readMountFileInside(path, folder, o);
    };
    assert.deepEqual(await readManifestItems(file, 'items', dir, { read: flaky }), { ok: true, items: [1, 2] });
    assert.equal(calls, 3);

    const broken = async (path: string): Promise<MountRead> => ({ ok: false, why: 'unreadable', detail: `${path} cannot be read (EIO)`, code: 'EIO' });
    const t0 = performance.now();
    const r = await readManifestItems(file, 'items', dir, { read: broken, retry: { giveUpMs: 400 } });
    const took = performance.now() - t0;
    assert.ok(took >= 400 && took < 2000, `gave up after the give-up time (${took.toFixed(0)} ms)`);
    assert.match(r.ok ? '' : r.error, /^foreach manifest cannot be read: .*m\.json cannot be read \(EIO\) \(failed \d+ reads over 0\.\d s; gave up\)/);

    // Written on another host, not visible here yet: found once it is.
    const late = join(dir, 'late.json');
    setTimeout(() => void writeFile(late, '["a"]'), 300);
    assert.deepEqual(await readManifestItems(late, '', dir), { ok: true, items: ['a'] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('heartbeats and submissions: a file not visible yet is read once it is, when it should be there', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const hb = heartbeatPath(paths, 3);
    await mkdir(join(hb, '..'), { recursive: true });
    const t0 = performance.now();
    const absent = await readHeartbeatFile(paths, 3);
    assert.ok(!absent.ok && absent.missing && performance.now() - t0 < 200, 'an agent that never started: missing at once');
    setTimeout(() => void writeFile(hb, '{"not": "a heartbeat"}'), 300);
    const late = await readHeartbeatFile(paths, 3, { missingToo: true });
    assert.ok(!late.ok && !late.missing && /not a heartbeat/.test(late.problem), 'read once it appeared (and judged on what it holds)');

    const sub = join(paths.inbox, 'b1.json');
    setTimeout(() => void writeFile(sub, '{"plan": "p"}'), 300);
    const r = await readSubmission(sub);
    assert.ok(r.ok && r.sub.plan === 'p', 'a listed submission not visible for a moment is read');
  } finally {
    await cleanup();
  }
});
