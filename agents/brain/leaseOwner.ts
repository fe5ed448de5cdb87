// Who holds the brain's lease: brain/brain.owner, {pid, host, since, seq, token}, read as
// untrusted data. Apart from brain/lock.ts (which takes and renews the lease) so that readers
// (forge status, doctor) load neither proper-lockfile nor the lease's writing side.
import { isTransientFailure, readMountFile } from '../core/mountRead.ts';
import type { MountPaths } from '../core/paths.ts';

export interface LockOwner {
  pid: number;
  host: string;
  since: string | null;
  /** One higher at every renewal; null in the owner file of a brain from before the lease. */
  seq: number | null;
  /** Random, one per holding: whether the lease is still the holder's own. */
  token: string | null;
}

export function ownerPath(paths: MountPaths): string {
  return `${paths.brainLock}.owner`;
}

function parseOwner(text: string): LockOwner | null {
  try {
    const raw = JSON.parse(text) as Record<string, unknown> | null;
    if (!raw || typeof raw.pid !== 'number' || typeof raw.host !== 'string') return null;
    return {
      pid: raw.pid,
      host: raw.host,
      since: typeof raw.since === 'string' ? raw.since : null,
      seq: typeof raw.seq === 'number' ? raw.seq : null,
      token: typeof raw.token === 'string' ? raw.token : null,
    };
  } catch {
    return null;
  }
}

/**
 * The owner file: ok with the owner, or with null when it is absent or not an owner (garbage,
 * a FIFO: never a hang); not ok when it could not be read for now (ESTALE, EIO after retries).
 */
export async function readOwnerFile(paths: MountPaths): Promise<{ ok: true; owner: LockOwner | null } | { ok: false; problem: string }> {
  const r = await readMountFile(ownerPath(paths), { maxBytes: 4096, retry: {} });
  if (r.ok) return { ok: true, owner: parseOwner(r.text) };
  return isTransientFailure(r) || r.why === 'unreadable' ? { ok: false, problem: r.detail } : { ok: true, owner: null };
}

/** brain/brain.owner: who holds the lock; null when absent, unreadable or not a small JSON file of that shape (never a hang on a FIFO). */
export async function readLockOwner(paths: MountPaths): Promise<LockOwner | null> {
  const r = await readOwnerFile(paths);
  return r.ok ? r.owner : null;
}
