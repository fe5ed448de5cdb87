// Whether a process id names a live process on this host: the one test every daemon uses
// (a dead brain's lock, an agent's previous life, a spool writer that is gone). A pid is only
// meaningful on the host that wrote it; callers check the host first.
import { errorCode } from './errors.ts';

/** True while `pid` exists here (EPERM: it exists, owned by another user). A zombie counts as alive until reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errorCode(err) === 'EPERM';
  }
}
