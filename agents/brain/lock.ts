// One brain per mount, held as a lease.
//
// brain/brain.lock is a proper-lockfile lock: its atomic mkdir decides which of several brains
// starting at once gets it, and proper-lockfile tells its holder when the folder is removed or
// replaced under it (onCompromised). Who holds it is in brain/brain.owner,
// {pid, host, since, seq, token}: the holder rewrites it whole (written aside and renamed into
// place, so a reader never sees half of it) every few seconds, with seq one higher.
//
// A brain that finds the lock held:
// - its owner ran on this host and that pid is gone (a SIGKILLed predecessor): takes over at once;
// - otherwise it watches the owner's seq on its own clock. If seq moves, a live brain holds the
//   lease: refused (BrainLockedError). If it stays unchanged for timeouts.heartbeat_stale_s, the
//   holder is dead, frozen or cut off from the mount: the lock folder is removed and locked
//   again (mkdir decides among brains racing for it), and the owner file written anew.
// A file's time is never compared with this host's clock: the hosts sharing the mount have
// clocks that differ, and their NFS clients cache file attributes for seconds.
//
// The holder checks at each renewal that the owner file still carries its token. When another
// brain took the lease over (this one was frozen past the stale period), or proper-lockfile
// reports the lock folder compromised, it stops, and never removes the lock folder, which is
// the new holder's now.
import fs from 'node:fs';
import { isAlive } from '../core/pids.ts';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import lockfile from 'proper-lockfile';
import { writeJsonAtomic } from '../core/atomic.ts';
import { errorCode, errorMessage } from '../core/errors.ts';
import { kindOf } from '../core/mountRead.ts';
import type { MountPaths } from '../core/paths.ts';
import { quarantine } from '../core/quarantine.ts';
import { type LockOwner, ownerPath, readLockOwner, readOwnerFile } from './leaseOwner.ts';

export { type LockOwner, readLockOwner };

export interface BrainLock {
  release(): Promise<void>;
  /** A dead previous brain of this host, when there was one. */
  previousPid: number | null;
  /** How this brain got the lock from another, in words, for the decision log; null when the lock was free. */
  tookOver: string | null;
}

export interface LeaseOptions {
  /** How long the owner's seq must stay unchanged, on this brain's clock, before it takes the lease over (ms): timeouts.heartbeat_stale_s. Default 120 s. */
  staleMs?: number;
  /** How often the holder renews the lease (ms). Default: 5 s, at most a quarter of staleMs. */
  renewMs?: number;
  /** How often a waiting brain reads the owner's seq (ms). Default: half of renewMs, at most 1 s. */
  pollMs?: number;
  /** This process's clock (ms) for the wait and the renewals; default monotonic. Never a file time. */
  now?: () => number;
  /** Where the waiting and a takeover are told. */
  say?: (line: string) => void;
}

/** The config's default timeouts.heartbeat_stale_s, in ms. */
const DEFAULT_STALE_MS = 120_000;

/**
 * proper-lockfile calls a lock stale when its folder's mtime is older than `stale` by THIS
 * host's clock, while the holder's clock set that mtime: across hosts a few minutes of skew
 * make a live brain's lock look stale, or a dead one's fresh for ever. The lease decides
 * (seq, watched on the reader's clock); proper-lockfile's stale is set far beyond any real
 * pause, a century, longer than any mtime a lock folder can have, so its mtime check never
 * fires. It still refreshes the folder's mtime and reports the folder removed or replaced.
 */
const PROPER_LOCKFILE_STALE_MS = 100 * 365 * 24 * 3600 * 1000;

export class BrainLockedError extends Error {}


/**
 * Writes the owner file whole (core/atomic.ts: a reader sees the old one or the new one). A
 * FIFO, symlink or directory in its place is moved to quarantine/brain/ first, with a note.
 */
async function writeOwner(paths: MountPaths, owner: LockOwner): Promise<void> {
  const file = ownerPath(paths);
  const st = await lstat(file).catch(() => null);
  if (st && !st.isFile()) {
    await quarantine(paths, 'brain', file, 'brain.owner', `${file} was not a regular file: moved aside and written again (it was ${kindOf(st.mode)})`);
  }
  await writeJsonAtomic(file, owner);
}

function describe(owner: LockOwner | null): string {
  return owner ? `pid ${owner.pid} on ${owner.host}` : 'an unknown holder (no readable brain/brain.owner)';
}

/** What moves when the holder renews: its token and seq. */
function leaseKey(owner: LockOwner | null): string {
  return owner ? `${owner.token}:${owner.seq}` : '-';
}

function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

/** Whether the lock folder is still there; a look that fails otherwise (EIO) says it is. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    const code = errorCode(err);
    return code !== 'ENOENT' && code !== 'ESTALE';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function acquireBrainLock(paths: MountPaths, onCompromised: (err: Error) => void, o: LeaseOptions = {}): Promise<BrainLock> {
  const lease = new Lease(paths, onCompromised, o);
  await mkdir(paths.brain, { recursive: true });
  // The previous brain on this host, whatever became of it: its half-done task moves are finished at start.
  const before = await readLockOwner(paths);
  const previousPid = before && before.host === lease.me && before.pid !== process.pid && !isAlive(before.pid) ? before.pid : null;
  const tookOver = await lease.take();
  await lease.startRenewing();
  return { previousPid, tookOver, release: () => lease.release() };
}

/**
 * One holding of the brain lock: taking it (at once, from a dead holder of this host, or once
 * the holder's lease lapsed), renewing it, and letting it go. The lease semantics are those
 * of the comment at the top of this file.
 */
class Lease {
  readonly me = hostname();
  private readonly paths: MountPaths;
  private readonly onCompromised: (err: Error) => void;
  private readonly staleMs: number;
  private readonly renewMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly say: (line: string) => void;
  private readonly lockfilePath: string;
  private readonly token = randomBytes(8).toString('hex');
  private readonly lockOptions: lockfile.LockOptions;
  /**
   * Set once the lock folder may be another brain's (taken over, compromised): from then on
   * proper-lockfile's removal of it (on release, or at exit) does nothing.
   */
  private foreign = false;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  /** proper-lockfile's release of the lock folder, once it is held. */
  private unlock: (() => Promise<void>) | null = null;
  /** The owner file's since, seq and the time of the last renewal written (this process's clock). */
  private since = '';
  private seq = 0;
  private renewed = 0;

  constructor(paths: MountPaths, onCompromised: (err: Error) => void, o: LeaseOptions) {
    this.paths = paths;
    this.onCompromised = onCompromised;
    this.staleMs = o.staleMs ?? DEFAULT_STALE_MS;
    this.renewMs = o.renewMs ?? Math.min(5000, this.staleMs / 4);
    this.pollMs = o.pollMs ?? Math.min(1000, this.renewMs / 2);
    this.now = o.now ?? (() => performance.now());
    this.say = o.say ?? ((line: string) => process.stderr.write(`brain: ${line}\n`));
    this.lockfilePath = `${paths.brainLock}.lock`;
    const guardedFs = {
      ...fs,
      rmdir: (path: string, cb: (err: NodeJS.ErrnoException | null) => void) => (this.foreign ? cb(null) : fs.rmdir(path, cb)),
      rmdirSync: (path: string) => {
        if (!this.foreign) fs.rmdirSync(path);
      },
    };
    this.lockOptions = {
      lockfilePath: this.lockfilePath, realpath: false, stale: PROPER_LOCKFILE_STALE_MS, update: Math.max(1000, this.renewMs), fs: guardedFs,
      onCompromised: (err: Error) => this.lost(err),
    };
  }

  /** Takes the lock folder; how it was taken from another brain, in words, or null when it was free. */
  async take(): Promise<string | null> {
    try {
      this.unlock = await lockfile.lock(this.paths.brain, this.lockOptions);
      return null;
    } catch (err) {
      if (errorCode(err) !== 'ELOCKED') throw err;
    }
    const read = await readOwnerFile(this.paths);
    const owner = read.ok ? read.owner : null;
    let tookOver: string;
    if (owner && owner.host === this.me && owner.pid !== process.pid && !isAlive(owner.pid)) {
      // proper-lockfile only unlocks its own locks: the dead owner's lock folder is removed by hand.
      await rm(this.lockfilePath, { recursive: true, force: true });
      this.unlock = await this.lockAgain(describe(owner));
      tookOver = `took over ${this.lockfilePath} from ${describe(owner)}, which is not running`;
    } else {
      const lapse = await this.waitForLapse(read.ok ? owner : undefined);
      if (lapse === 'released') {
        this.unlock = await this.lockAgain(describe(owner));
        return null;
      }
      await rm(this.lockfilePath, { recursive: true, force: true });
      this.unlock = await this.lockAgain(describe(owner));
      tookOver = `took over ${this.lockfilePath} from ${describe(owner)}, whose lease was unchanged for ${seconds(lapse)} s`;
    }
    this.say(tookOver);
    return tookOver;
  }

  private refused(why: string): BrainLockedError {
    return new BrainLockedError(`another brain holds ${this.lockfilePath} (${why}); only one brain may run per mount.`);
  }

  private async lockAgain(who: string): Promise<() => Promise<void>> {
    try {
      return await lockfile.lock(this.paths.brain, this.lockOptions);
    } catch (err) {
      if (errorCode(err) === 'ELOCKED') throw this.refused(`another brain took it over from ${who} first`);
      throw err;
    }
  }

  /**
   * Watches the owner's lease on this process's clock (`owner` undefined: its file could not
   * be read yet): 'released' when the lock folder went away, the time it stayed unchanged once
   * that reaches staleMs; throws BrainLockedError when it moves (a live brain renews it), or
   * when the owner file cannot be read to judge for that long.
   */
  private async waitForLapse(owner: LockOwner | null | undefined): Promise<number | 'released'> {
    const who = owner === undefined ? 'a holder whose brain/brain.owner cannot be read now' : describe(owner);
    if (owner && owner.seq === null) {
      throw this.refused(`${who}, a brain from before the lease: it cannot be watched. Stop it first, or remove the lock if that process is gone`);
    }
    this.say(`${this.lockfilePath} is held: waiting up to ${seconds(this.staleMs)} s for the lease of ${who} to lapse`);
    // The count starts at the first look that read the owner file, and ends on a fresh one.
    let first = owner === undefined ? null : leaseKey(owner);
    let since = this.now();
    const start = since;
    for (;;) {
      await sleep(this.pollMs);
      if (!(await exists(this.lockfilePath))) return 'released';
      const cur = await readOwnerFile(this.paths);
      if (!cur.ok) {
        if (this.now() - start >= 2 * this.staleMs) throw this.refused(`${who}; its owner file cannot be read to judge its lease: ${cur.problem}`);
        continue;
      }
      if (first === null) {
        first = leaseKey(cur.owner);
        since = this.now();
        continue;
      }
      if (leaseKey(cur.owner) !== first) {
        const seq = owner?.seq != null && cur.owner?.seq != null ? ` (seq ${owner.seq} → ${cur.owner.seq})` : '';
        throw new BrainLockedError(
          `another brain holds ${this.lockfilePath} (${describe(cur.owner)}); only one brain may run per mount. Its lease was renewed while this one waited${seq}: stop it first.`,
        );
      }
      const unchanged = this.now() - since;
      if (unchanged >= this.staleMs) return unchanged;
    }
  }

  /** The lease: the owner file written now, then renewed every renewMs while it carries this brain's token. */
  async startRenewing(): Promise<void> {
    this.since = new Date().toISOString();
    await this.writeOwnerNow();
    this.schedule();
  }

  private async writeOwnerNow(): Promise<void> {
    await writeOwner(this.paths, { pid: process.pid, host: this.me, since: this.since, seq: ++this.seq, token: this.token });
    this.renewed = this.now();
  }

  private schedule(): void {
    this.timer = setTimeout(() => void this.renew(), this.renewMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      const cur = await readOwnerFile(this.paths);
      if (this.stopped) return;
      if (cur.ok && cur.owner && cur.owner.token !== this.token) {
        this.lost(new Error(`${describe(cur.owner)} took the brain lease over (its owner file no longer carries this brain's token)`));
        return;
      }
      if (cur.ok) await this.writeOwnerNow();
    } catch {
      // A write that failed: tried again at the next renewal.
    }
    if (this.stopped) return;
    const silent = this.now() - this.renewed;
    if (silent >= this.staleMs / 2) {
      this.lost(new Error(`could not renew the brain lease for ${seconds(silent)} s; another brain may take it over after ${seconds(this.staleMs)} s`));
      return;
    }
    this.schedule();
  }

  private stopRenewing(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** The lease is no longer this brain's: stop renewing, leave the folder alone, tell the caller. */
  private lost(err: Error): void {
    if (this.foreign) return;
    this.foreign = true;
    this.stopRenewing();
    // proper-lockfile forgets the lock; its removal of the folder is a no-op now (guardedFs).
    void this.unlock?.().catch(() => {});
    this.onCompromised(err);
  }

  async release(): Promise<void> {
    if (this.stopped) return;
    this.stopRenewing();
    // Still ours? A brain that took the lease over while this one was frozen holds the folder now.
    const cur = await readOwnerFile(this.paths);
    if (cur.ok && cur.owner && cur.owner.token !== this.token) this.foreign = true;
    await this.unlock?.().catch((err: unknown) => {
      if (!this.foreign) throw new Error(`could not release ${this.lockfilePath}: ${errorMessage(err)}`);
    });
  }
}
