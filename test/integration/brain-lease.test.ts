// The brain lock as a lease, with real processes and files: the holder renews brain/brain.owner
// (seq + 1) every renewMs; a newcomer takes the lease over only once seq has stayed unchanged
// for the stale period on its own clock, whatever the lock folder's time says; a live holder's
// lease is never taken; a holder whose lease was taken over stops and leaves the lock alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { BrainLockedError, acquireBrainLock, readLockOwner } from '../../agents/brain/lock.ts';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { tempMount } from '../helpers/mount.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STALE_MS = 1500;
const RENEW_MS = 200;
const HOST = hostname();
const lease = { staleMs: STALE_MS, renewMs: RENEW_MS };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockDir = (paths: MountPaths) => `${paths.brainLock}.lock`;

/** A lock holder in a process of its own (test/helpers/leaseHolder.ts), and the JSON lines it prints. */
function startHolder(paths: MountPaths): { proc: ResultPromise; lines: Array<Record<string, unknown>>; next: (key: string, ms?: number) => Promise<Record<string, unknown>> } {
  const proc = execa(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/leaseHolder.ts'), paths.root, String(STALE_MS), String(RENEW_MS)], {
    cwd: ROOT, reject: false, cleanup: true,
  });
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  const next = async (key: string, ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const line = lines.find((l) => key in l);
      if (line) return line;
      if (Date.now() > end) throw new Error(`no "${key}" line from the holder within ${ms} ms: ${JSON.stringify(lines)}`);
      await sleep(20);
    }
  };
  return { proc, lines, next };
}

/** A process that sleeps: a pid alive on this host. */
function sleeper(): ResultPromise {
  return execa(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { reject: false, cleanup: true });
}

test('a lease renewed by a live brain is not taken: the newcomer waits, sees seq move, and is refused naming the owner', { timeout: 60_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const holder = startHolder(paths);
  try {
    const pid = (await holder.next('held')).held as number;
    // Renewals rewrite the owner file whole: every read of it parses, and seq grows.
    const seen = new Set<number>();
    const end = Date.now() + 3 * RENEW_MS;
    while (Date.now() < end) {
      const owner = JSON.parse(await readFile(`${paths.brainLock}.owner`, 'utf8')) as { pid: number; seq: number; token: string };
      assert.equal(owner.pid, pid);
      assert.match(owner.token, /^[0-9a-f]{16}$/);
      seen.add(owner.seq);
    }
    assert.ok(seen.size >= 2, `seq moved: ${[...seen].join(', ')}`);

    const said: string[] = [];
    await assert.rejects(acquireBrainLock(paths, () => {}, { ...lease, say: (l) => said.push(l) }), (err: unknown) => {
      assert.ok(err instanceof BrainLockedError);
      assert.match(err.message, new RegExp(`^another brain holds .*brain\\.lock \\(pid ${pid} on ${HOST}\\); only one brain may run per mount\\. Its lease was renewed while this one waited \\(seq \\d+ → \\d+\\)`));
      return true;
    });
    // Refused because seq moved (the message says so), not after waiting out the stale period.
    assert.deepEqual(said, [`${lockDir(paths)} is held: waiting up to 1.5 s for the lease of pid ${pid} on ${HOST} to lapse`]);
    assert.equal((await readLockOwner(paths))?.pid, pid);
    await sleep(2 * RENEW_MS);
    assert.deepEqual(holder.lines.filter((l) => 'lost' in l), [], 'the holder is untouched');
  } finally {
    holder.proc.kill('SIGTERM');
    await holder.proc;
    await cleanup();
  }
});

const YEAR_MS = 365 * 24 * 3600 * 1000;
for (const [when, mtime] of [['far in the future', new Date(Math.floor(Date.now() / 1000) * 1000 + 10 * YEAR_MS)], ['far in the past', new Date(1_000_000)]] as const) {
  test(`a lease whose owner on another host stopped renewing is taken over after the stale period, not before; the lock folder's time (${when}) does not count`, { timeout: 30_000 }, async () => {
    const { paths, cleanup } = await tempMount();
    const alive = sleeper();
    let done = null as Awaited<ReturnType<typeof acquireBrainLock>> | null;
    try {
      // Another host's brain, cut off: its pid means nothing here (it happens to be alive), its lease stopped at seq 7.
      await mkdir(lockDir(paths));
      await writeJsonAtomic(`${paths.brainLock}.owner`, { pid: alive.pid, host: 'elsewhere', since: '2026-01-01T00:00:00.000Z', seq: 7, token: 'feedfacecafebeef' });
      await utimes(lockDir(paths), mtime, mtime);
      const said: string[] = [];
      let compromised: Error | null = null;
      const t0 = performance.now();
      const acquiring = acquireBrainLock(paths, (err) => (compromised = err), { ...lease, say: (l) => said.push(l) });
      acquiring.then((l) => (done = l), () => {});
      await sleep(STALE_MS / 2);
      assert.equal((await readLockOwner(paths))?.host, 'elsewhere', 'not taken before the stale period');
      assert.equal((await lstat(lockDir(paths))).mtimeMs, mtime.getTime(), 'the lock folder is still the old one');
      const lock = await acquiring;
      const took = performance.now() - t0;
      try {
        assert.ok(took >= STALE_MS, `taken over after ${took.toFixed(0)} ms, not before the stale period`);
        const owner = await readLockOwner(paths);
        assert.equal(owner?.pid, process.pid);
        assert.equal(owner?.host, HOST);
        assert.notEqual(owner?.token, 'feedfacecafebeef');
        assert.equal(said[0], `${lockDir(paths)} is held: waiting up to 1.5 s for the lease of pid ${alive.pid} on elsewhere to lapse`);
        assert.match(said[1] ?? '', new RegExp(`^took over .*brain\\.lock from pid ${alive.pid} on elsewhere, whose lease was unchanged for (1\\.[5-9]|[2-9]\\.\\d|\\d{2,}\\.\\d) s$`));
        assert.equal(lock.previousPid, null, 'a pid of another host is nobody here');
        assert.notEqual((await lstat(lockDir(paths))).mtimeMs, mtime.getTime(), 'a lock folder of its own');
        await sleep(3 * RENEW_MS);
        assert.ok((await readLockOwner(paths))!.seq! >= 2, 'and renews it');
        assert.equal(compromised, null);
      } finally {
        await lock.release();
      }
      await assert.rejects(lstat(lockDir(paths)), { code: 'ENOENT' });
    } finally {
      await done?.release();
      alive.kill('SIGKILL');
      await alive;
      await cleanup();
    }
  });
}

test('a frozen holder loses its lease after the stale period and, thawed, stops without touching the new holder\'s lock', { timeout: 60_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const holder = startHolder(paths);
  let lock: Awaited<ReturnType<typeof acquireBrainLock>> | null = null;
  try {
    const pid = (await holder.next('held')).held as number;
    holder.proc.kill('SIGSTOP');
    const said: string[] = [];
    let compromised: Error | null = null;
    const t0 = performance.now();
    lock = await acquireBrainLock(paths, (err) => (compromised = err), { ...lease, say: (l) => said.push(l) });
    assert.ok(performance.now() - t0 >= STALE_MS);
    assert.match(said.at(-1) ?? '', new RegExp(`^took over .*brain\\.lock from pid ${pid} on ${HOST}, whose lease was unchanged for (1\\.[5-9]|[2-9]\\.\\d|\\d{2,}\\.\\d) s$`));
    const mine = await readLockOwner(paths);
    assert.equal(mine?.pid, process.pid);

    holder.proc.kill('SIGCONT');
    const lost = await holder.next('lost', 10_000);
    assert.match(String(lost.lost), new RegExp(`pid ${process.pid} on ${HOST} took the brain lease over|Unable to update lock within the stale threshold`));
    const r = await holder.proc;
    assert.equal(r.exitCode, 0);
    // The old holder left the lock folder and the owner file alone: this brain still holds both.
    await sleep(1500);
    assert.ok((await lstat(lockDir(paths))).isDirectory());
    const owner = await readLockOwner(paths);
    assert.equal(owner?.token, mine?.token);
    assert.ok(owner!.seq! > mine!.seq!, 'still renewed by this brain');
    assert.equal(compromised, null, 'nothing disturbed this brain\'s lock');
  } finally {
    holder.proc.kill('SIGCONT');
    holder.proc.kill('SIGKILL');
    await holder.proc;
    await lock?.release();
    await cleanup();
  }
});

test('a dead brain of this host is taken over at once, and named as the previous one', { timeout: 30_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const child = execa(process.execPath, ['-e', '0']);
    const gone = { pid: child.pid! };
    await child;
    await mkdir(lockDir(paths));
    await writeJsonAtomic(`${paths.brainLock}.owner`, { pid: gone.pid, host: HOST, since: '2026-01-01T00:00:00.000Z', seq: 3, token: 'feedfacecafebeef' });
    const said: string[] = [];
    const lock = await acquireBrainLock(paths, () => {}, { ...lease, say: (l) => said.push(l) });
    try {
      // No "waiting up to" line: a dead pid of this host is known dead at once.
      assert.equal(lock.previousPid, gone.pid);
      assert.deepEqual(said, [`took over ${lockDir(paths)} from pid ${gone.pid} on ${HOST}, which is not running`]);
      assert.equal((await readLockOwner(paths))?.pid, process.pid);
    } finally {
      await lock.release();
    }
  } finally {
    await cleanup();
  }
});
