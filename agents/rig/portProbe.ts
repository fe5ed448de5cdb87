// The rig's port check at the edges: try to listen on each port its servers will bind, and
// for a taken one find the process holding it (/proc/net/tcp{,6}, then each process's
// socket fds). Linux only for the holder; elsewhere a holder is "a process this user cannot
// see". The decisions and the wording are in portCheck.ts.
import { createServer } from 'node:net';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { type BusyPort, type PortHolder, type PortNeed, commandLine, holdingInodes, parseProcNetTcp, socketInode } from './portCheck.ts';

/** null when `host:port` could be listened on (and was let go at once), else the error's code. */
export function tryListen(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
}

/** Every needed port that cannot be listened on now, with who holds it. */
export async function findBusyPorts(needs: readonly PortNeed[]): Promise<BusyPort[]> {
  const busy: BusyPort[] = [];
  for (const need of needs) {
    const code = await tryListen(need.host, need.port);
    if (code === null) continue;
    busy.push({ ...need, code, holders: code === 'EADDRINUSE' ? await findHolders(need.port) : [] });
  }
  return busy;
}

/** The processes holding `port` (by their sockets' inodes), or [null] when none is visible. */
export async function findHolders(port: number): Promise<PortHolder[]> {
  const tables = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((f) => readFile(f, 'utf8').catch(() => '')));
  const inodes = new Set(holdingInodes(tables.flatMap(parseProcNetTcp), port));
  if (!inodes.size) return [null];
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  const found: PortHolder[] = [];
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const inode = socketInode(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
      if (inode === null || !inodes.has(inode)) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      found.push({ pid: Number(pid), command: commandLine(cmdline) });
      break;
    }
  }
  return found.length ? found : [null];
}

/**
 * A base port from which `count` consecutive ports are free on `host`, searched upward from
 * `from` in steps of `count`; null when none is found within `tries` bases.
 */
export async function findFreeBase(host: string, count: number, from: number, tries = 50): Promise<number | null> {
  for (let base = from, i = 0; i < tries && base + count - 1 <= 65000; base += count, i++) {
    let free = true;
    for (let p = base; p < base + count && free; p++) free = (await tryListen(host, p)) === null;
    if (free) return base;
  }
  return null;
}
