// store.claimRecorded(): the claim and its record in one move (a take into processing/, then
// one write), its lost races, the files it cannot read, and a claimer killed halfway; and
// replace() told what the file holds, on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskStore } from '../../agents/core/store.ts';
import { recordClaim } from '../../agents/gpu/claimPolicy.ts';
import { TASK_FOLDERS, type MountPaths } from '../../agents/core/paths.ts';
import type { Task } from '../../agents/core/task.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

async function whereIs(paths: MountPaths, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const f of TASK_FOLDERS) if ((await readdir(paths.folders[f])).includes(`${id}.json`)) out.push(f);
  return out;
}

async function temporaries(paths: MountPaths): Promise<string[]> {
  const out: string[] = [];
  for (const f of TASK_FOLDERS) for (const n of await readdir(paths.folders[f])) if (n.startsWith('.')) out.push(`${f}/${n}`);
  return out;
}

const claimBy = (agent: string, seen: Task) => (cur: Task) => recordClaim(cur, seen, agent, '2026-01-01T00:00:05.000Z');

test('a recorded claim moves the task to processing/ with its token in one write; the loser of the race writes nothing', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const t = makeTask();
    await store.write('queue', t);
    const read = await store.read('queue', t.id);
    assert.ok(read.ok);
    const known = { text: read.text, task: read.task };
    const [a, b] = await Promise.all([store.claimRecorded(t.id, claimBy('gpu-0', t), known), store.claimRecorded(t.id, claimBy('gpu-1', t), known)]);
    const won = [a, b].filter((r) => r.won);
    assert.equal(won.length, 1, 'exactly one claimer wins');
    const w = won[0]!;
    assert.ok(w.won && w.task);
    assert.equal(w.task.attempt, 1);
    // The version taken was the one the caller read: handed back as it was, not parsed again.
    assert.equal(w.was, read.task);
    assert.deepEqual(await whereIs(paths, t.id), ['processing']);
    const file = await readFile(store.fileOf('processing', t.id), 'utf8');
    assert.equal(file, w.text);
    const back = await store.read('processing', t.id);
    assert.ok(back.ok);
    assert.equal(back.task.claimed_by, w.task.claimed_by);
    assert.deepEqual(await temporaries(paths), []);
    assert.deepEqual(await store.claimRecorded(t.id, claimBy('gpu-0', t)), { won: false });
  } finally {
    await cleanup();
  }
});

test('a queued file that changed since the caller read it is parsed as it is now; one that no longer holds the claim seen goes back to queue/', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const t = makeTask();
    await store.write('queue', t);
    const read = await store.read('queue', t.id);
    assert.ok(read.ok);
    // Rewritten after the read: a higher estimate, same claim fields.
    await store.write('queue', { ...t, vram_estimate_mb: 512 });
    const r = await store.claimRecorded(t.id, claimBy('gpu-0', t), { text: read.text, task: read.task });
    assert.ok(r.won && r.task);
    assert.equal(r.task.vram_estimate_mb, 512);
    assert.notEqual(r.was, read.task);

    // Its claim fields differ from the ones the claimer decided on: not ours to record.
    const u = makeTask({ name: 'u' });
    await store.write('queue', { ...u, attempt: 2, claimed_by: 'gpu-1', claimed_at: '2026-01-01T00:00:01.000Z' });
    assert.deepEqual(await store.claimRecorded(u.id, claimBy('gpu-0', u)), { won: false });
    assert.deepEqual(await whereIs(paths, u.id), ['queue']);
    const still = await store.read('queue', u.id);
    assert.ok(still.ok);
    assert.equal(still.task.claimed_by, 'gpu-1');
    assert.deepEqual(await temporaries(paths), []);
  } finally {
    await cleanup();
  }
});

test('a claimed file that does not read as a task is left in processing/ as it is, for the caller to record (or quarantine) by replace', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths, { unreadableGraceMs: 0 });
    const t = makeTask();
    await writeFile(store.fileOf('queue', t.id), '{"id": "b1__t1", "na');
    const r = await store.claimRecorded(t.id, claimBy('gpu-0', t));
    assert.deepEqual(r, { won: true, task: null });
    assert.deepEqual(await whereIs(paths, t.id), ['processing']);
    assert.equal(await readFile(store.fileOf('processing', t.id), 'utf8'), '{"id": "b1__t1", "na');
    assert.deepEqual(await temporaries(paths), []);
    // replace() judges it as it always did: garbage goes to quarantine/, and the claim is not recorded.
    const rec = await store.replace('processing', t.id, claimBy('gpu-0', t));
    assert.equal(rec.ok, false);
    assert.deepEqual(await whereIs(paths, t.id), []);
    assert.ok((await readdir(join(paths.quarantine, 'processing'))).some((n) => n.endsWith(`-${t.id}.json`)));
  } finally {
    await cleanup();
  }
});

test('a claimer killed between its take and its write leaves the task as queued: put back in processing/ unclaimed by a lister once stale, or at once by its next life', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 0;
    const store = new TaskStore(paths, { takenStaleMs: 30_000, now: () => now });
    const a = makeTask({ name: 'a' });
    const b = makeTask({ name: 'b' });
    await store.write('queue', a);
    await store.write('queue', b);
    // What claimRecorded leaves when killed right after its rename: the taken file alone.
    await rename(store.fileOf('queue', a.id), join(paths.folders.processing, `.${a.id}.json.4242.0000abcd.taken.tmp`));
    await rename(store.fileOf('queue', b.id), join(paths.folders.processing, `.${b.id}.json.4343.0000abcd.taken.tmp`));
    assert.deepEqual(await store.list('processing'), []);
    now += 30_000;
    assert.deepEqual((await store.list('processing')).sort(), [a.id, b.id].sort());
    const back = await store.read('processing', a.id);
    assert.ok(back.ok);
    assert.equal(back.task.claimed_by, null, 'unclaimed: the brain returns it to queue/');
    assert.deepEqual(await temporaries(paths), []);

    // The claimer's next life finishes its own at once.
    const c = makeTask({ name: 'c' });
    await store.write('queue', c);
    await rename(store.fileOf('queue', c.id), join(paths.folders.processing, `.${c.id}.json.5151.0000abcd.taken.tmp`));
    assert.deepEqual(await new TaskStore(paths).recoverInterrupted(5151), [c.id]);
    assert.deepEqual(await whereIs(paths, c.id), ['processing']);
  } finally {
    await cleanup();
  }
});

test('replace told what the file holds skips its read, and still finds a file replaced since', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const store = new TaskStore(paths);
    const t = makeTask({ attempt: 1, claimed_by: 'gpu-0', claimed_at: '2026-01-01T00:00:05.000Z' });
    await store.write('processing', t);
    const read = await store.read('processing', t.id);
    assert.ok(read.ok);
    const r = await store.replace('processing', t.id, (cur) => ({ ...cur, finished_at: '2026-01-01T00:01:00.000Z' }), 'complete', { text: read.text, task: read.task });
    assert.ok(r.ok);
    assert.deepEqual(await whereIs(paths, t.id), ['complete']);

    // The word is stale: another process took the claim over since. The change sees the file as it is.
    const u = makeTask({ name: 'u', attempt: 1, claimed_by: 'gpu-0', claimed_at: '2026-01-01T00:00:05.000Z' });
    await store.write('processing', u);
    const old = await store.read('processing', u.id);
    assert.ok(old.ok);
    await store.write('processing', { ...u, attempt: 2, claimed_by: 'gpu-1' });
    const seen: Task[] = [];
    const late = await store.replace('processing', u.id, (cur) => (seen.push(cur), cur.claimed_by === 'gpu-0' ? cur : null), 'complete', { text: old.text, task: old.task });
    assert.deepEqual(late, { ok: false, reason: 'declined' });
    assert.equal(seen.at(-1)!.claimed_by, 'gpu-1');
    assert.deepEqual(await whereIs(paths, u.id), ['processing']);
    assert.deepEqual(await temporaries(paths), []);
  } finally {
    await cleanup();
  }
});
