// The mount's own clock, for the doctor. Daemons judge how old a file is by watching it over
// their passes on their own clock (core/observedAge.ts); the doctor runs once and cannot watch
// a temporary file for ten minutes. What it can do is ask the file server what time it is:
// it writes a probe file on the mount and reads back its modification time, which the server
// stamped, as it stamped the mtime of every file written through it. A file's age is then
// that time minus the file's mtime: two times from one clock, whatever this host's clock says
// (the hosts sharing the mount differ by seconds to minutes).
//
// Chosen over two observations a short interval apart: an observation over seconds cannot
// tell a ten-minute-old leftover from a file whose writer paused for a second, and the doctor
// must not delete a live writer's file. The probe is one tiny file with a temporary name
// (every lister skips it, and the leftover cleaners remove it should the doctor die before
// its unlink), in the mount's root folder.
//
// Caveat: a lock folder's mtime is set by its holder's own clock (proper-lockfile's utimes),
// so for locks this age is off by that host's skew; the doctor only calls a lock stale after
// ten minutes, and judges the brain's lock by its lease file (written whole at every renewal,
// so stamped by the server), see inspect.ts.
import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode, errorMessage } from '../core/errors.ts';
import type { MountPaths } from '../core/paths.ts';

export type MountClock = { ok: true; now: number } | { ok: false; problem: string };

/** The file server's time now, in ms: the mtime of a probe file just written on the mount. */
export async function readMountClock(paths: MountPaths): Promise<MountClock> {
  const probe = join(paths.root, `.doctor-clock.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle;
  try {
    handle = await open(probe, 'wx', 0o644);
    // A write (synced), not only the create: the server stamps the mtime when it applies it.
    await handle.writeFile('1');
    await handle.sync();
    const st = await handle.stat();
    return { ok: true, now: st.mtimeMs };
  } catch (err) {
    return { ok: false, problem: `cannot write a probe file in ${paths.root} to read the mount's clock (${errorCode(err) ?? errorMessage(err)})` };
  } finally {
    await handle?.close().catch(() => {});
    await unlink(probe).catch(() => {});
  }
}
