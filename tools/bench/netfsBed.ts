// A network-mount test bed without kernel NFS: several "hosts" on one machine, each a client of
// one network folder, as the brain and the agents are on a rig whose mount is NFS.
//
// The server is a private sshd on a loopback port that serves `exportDir` over SFTP. Each host
// is a mount and UTS namespace (unshare -m -u) whose first process is sshfs, in the foreground,
// mounting that folder at `mount`: the same path on every host, with that host's own client
// cache, as one NFS export is mounted at one path on every machine of a rig. Outside the hosts
// `mount` is an empty folder; the test process sees the server's side in `exportDir`.
// Commands run on a host through nsenter into its namespaces, so they see its mount and its
// hostname and nothing else differs: same users, same pids, same network.
//
// Needs Linux, root, /dev/fuse, sshd, ssh, sshfs, unshare, nsenter, ssh-keygen and hostname
// (`netfsMissing` says which is absent). Everything the bed starts is killed by `stop()`, or,
// when a test fails before it, when the test process exits.
import { type ChildProcess, type SpawnOptions, spawn as spawnChild } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStatFields, readProcStat } from '../../agents/core/pids.ts';

/**
 * How much each host's client caches: `none` nothing (every lookup and stat asks the server),
 * `nfs` like an NFS client's defaults (names, attributes and directory listings kept 3 s),
 * `default` sshfs's own defaults (kernel 1 s, sshfs 20 s).
 *
 * What a host B sees of A's changes under `nfs` (sshfs 3.7.3, Linux 6.18):
 * - a stat answers from attributes cached by B's last stat or listing of the folder. The
 *   kernel's 3 s sit on sshfs's own 3 s, counted in whole seconds, so a stat repeated in a loop
 *   can answer stale for up to about 7 s;
 * - a listing of a folder B listed within those seconds lacks files created since, and still
 *   shows files removed since; a lookup by name finds a new file at once (no negative cache);
 * - an open reads fresh content (no page is kept across opens), but only up to the size B has
 *   cached: a file that grew since B's stat or listing reads cut at the old size;
 * - a descriptor held open across a change reads the old pages, under every profile.
 */
export type CacheProfile = 'none' | 'nfs' | 'default';

/** The sshfs `-o` options of each profile, comma-separated ('' for none). */
export const PROFILE_OPTIONS: Readonly<Record<CacheProfile, string>> = {
  none: 'dir_cache=no,entry_timeout=0,attr_timeout=0,negative_timeout=0',
  nfs: 'dir_cache=yes,dcache_timeout=3,entry_timeout=3,attr_timeout=3',
  default: '',
};

export interface TestBedOptions {
  /** Host names, distinct; each becomes that host's hostname. */
  hosts: string[];
  profile: CacheProfile;
  /** Prefix of the temporary folder (default `forge-netfs-`). */
  prefix?: string;
}

/** Options of a command on a host: those of child_process.spawn; `cwd` is a path on the host. */
export type HostSpawnOptions = Omit<SpawnOptions, 'detached' | 'argv0' | 'shell'>;

export interface ExecResult {
  /** Exit code, or null when a signal ended the command. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestBed {
  /** The temporary folder holding everything; removed by stop(). */
  readonly root: string;
  /** The folder the server exports: the server's own view of the files. */
  readonly exportDir: string;
  /** Where every host mounts the export; an empty folder outside the hosts. */
  readonly mount: string;
  readonly hosts: readonly string[];
  readonly profile: CacheProfile;
  /** Starts a command on a host, in its own process group; stop() kills that group. */
  spawn(host: string, cmd: string, args?: readonly string[], opts?: HostSpawnOptions): ChildProcess;
  /** Runs a command on a host to its end. */
  exec(host: string, cmd: string, args?: readonly string[], opts?: HostSpawnOptions): Promise<ExecResult>;
  /** Kills the commands, the hosts and the server, then removes `root`. Safe to call twice. */
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';
/** The commands the bed runs, with the Debian package of each. */
const COMMANDS: Readonly<Record<string, string>> = {
  sshfs: 'sshfs',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  hostname: 'hostname',
};
const MOUNT_TIMEOUT_MS = 10_000;
const SSHD_TIMEOUT_MS = 10_000;
/** How long sshfs and sshd get to end on SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 2_000;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, cmd)));
}

/** Null when the bed can run here; otherwise one line naming everything that is missing. */
export function netfsMissing(): string | null {
  if (process.platform !== 'linux') return `the network-mount test bed needs Linux (this is ${process.platform})`;
  const missing: string[] = [];
  const uid = process.getuid?.();
  if (uid !== 0) missing.push(`root (running as uid ${uid})`);
  if (!existsSync('/dev/fuse')) missing.push('/dev/fuse');
  if (!isExecutable(SSHD)) missing.push(`${SSHD} (openssh-server)`);
  for (const [cmd, pkg] of Object.entries(COMMANDS)) if (!onPath(cmd)) missing.push(`${cmd} (${pkg})`);
  return missing.length ? `the network-mount test bed needs ${missing.join(', ')}` : null;
}

/** A loopback port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error('no port from listen(0)'))));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command here (not on a host) to its end, with its output. */
function run(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Promise<ExecResult> {
  return collect(spawnChild(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** A child's exit code and whole output, once it has closed (its stdout and stderr piped). */
function collect(child: ChildProcess): Promise<ExecResult> {
  return new Promise((done, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Whether a process runs. A zombie does not: it waits only to be reaped (by init, when it was a daemon). */
export function isRunning(pid: number): boolean {
  const state = readProcStat(pid)?.state;
  return state !== undefined && state !== 'Z';
}

/** Every running descendant of pid (by the parent pid in /proc), deepest last. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(procStatFields(stat)[1]);
      parent.set(Number(name), ppid);
    } catch {
      // Gone while listing.
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, ppid] of parent) if (ppid === p) (out.push(child), queue.push(child));
  }
  return out.filter(isRunning);
}

/** Sends a signal; a process or group already gone is no error. */
function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // ESRCH: already gone.
  }
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (pids.some(isRunning)) {
    if (Date.now() >= end) return false;
    await sleep(20);
  }
  return true;
}

/** Whether mountinfo lists `mountPoint` as an sshfs mount. */
function hasSshfsMount(mountinfo: string, mountPoint: string): boolean {
  return mountinfo.split('\n').some((line) => {
    const [left, right] = line.split(' - ');
    if (!left || !right) return false;
    // Field 5 is the mount point, with space, tab, newline and backslash written as octal escapes.
    const point = (left.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    return point === mountPoint && right.split(' ')[0] === 'fuse.sshfs';
  });
}

function tail(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? '…' + t.slice(-max) : t || '(empty)';
}

function sshdConfig(root: string, port: number): string {
  const etc = join(root, 'etc');
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(etc, 'host_key')}`,
    `AuthorizedKeysFile ${join(etc, 'authorized_keys')}`,
    'PasswordAuthentication no',
    'PermitRootLogin prohibit-password',
    // The keys live under a temporary folder, which sshd's ownership checks would refuse.
    'StrictModes no',
    'UsePAM no',
    `PidFile ${join(root, 'sshd.pid')}`,
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

/** Starts the server and one sshfs client per host; see the top of this file. */
export async function startTestBed(options: TestBedOptions): Promise<TestBed> {
  const missing = netfsMissing();
  if (missing) throw new Error(missing);
  const hosts = [...options.hosts];
  if (hosts.length === 0) throw new Error('startTestBed: no hosts');
  if (new Set(hosts).size !== hosts.length) throw new Error(`startTestBed: host names repeat: ${hosts.join(', ')}`);
  for (const h of hosts) {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(h)) throw new Error(`startTestBed: ${JSON.stringify(h)} is not a host name`);
  }

  const root = await mkdtemp(join(tmpdir(), options.prefix ?? 'forge-netfs-'));
  const etc = join(root, 'etc');
  const exportDir = join(root, 'export');
  const mount = join(root, 'mnt');
  const sshdLog = join(root, 'sshd.log');
  const pidFile = join(root, 'sshd.pid');
  const clientKey = join(etc, 'client_key');

  /** Namespace holders (sshfs) by host. */
  const holders = new Map<string, ChildProcess>();
  /** Commands started on hosts; each leads its own process group. */
  const tracked = new Set<ChildProcess>();
  let sshdPid: number | null = null;
  let stopped = false;

  const readSshdPid = (): number | null => {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 1 ? pid : null;
    } catch {
      return null;
    }
  };

  // The test process may end without stop() (a failed assertion, an uncaught error): kill what
  // is left, synchronously, as 'exit' allows nothing else.
  const killAllNow = (): void => {
    for (const child of tracked) if (child.pid) signal(-child.pid, 'SIGKILL');
    for (const holder of holders.values()) if (holder.pid) signal(-holder.pid, 'SIGKILL');
    const pid = sshdPid ?? readSshdPid();
    if (pid) {
      const sessions = descendants(pid);
      signal(pid, 'SIGKILL');
      for (const p of sessions) signal(p, 'SIGKILL');
    }
    try {
      rmSync(root, { recursive: true, force: true });
    } catch {
      // Nothing more can be done while exiting.
    }
  };
  process.on('exit', killAllNow);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // 1. The commands on the hosts, with everything in their process groups.
    for (const child of tracked) if (child.pid) signal(-child.pid, 'SIGKILL');
    await waitGone([...tracked].map((c) => c.pid!).filter(Boolean), TERM_GRACE_MS);
    // 2. The hosts: sshfs in the foreground unmounts and ends on SIGTERM; its ssh is in its
    // group. A host's namespace goes with its last process.
    const holderPids = [...holders.values()].map((h) => h.pid!).filter(Boolean);
    for (const pid of holderPids) signal(pid, 'SIGTERM');
    if (!(await waitGone(holderPids, TERM_GRACE_MS))) for (const pid of holderPids) signal(pid, 'SIGKILL');
    for (const pid of holderPids) signal(-pid, 'SIGKILL');
    // 3. The server: the listener and its per-connection processes (those end with their
    // client anyway; killing them too leaves nothing to wait on).
    const pid = sshdPid ?? readSshdPid();
    if (pid) {
      const all = [pid, ...descendants(pid)];
      for (const p of all) signal(p, 'SIGTERM');
      if (!(await waitGone(all, TERM_GRACE_MS))) for (const p of all) signal(p, 'SIGKILL');
      await waitGone(all, TERM_GRACE_MS);
    }
    process.off('exit', killAllNow);
    await rm(root, { recursive: true, force: true });
  };

  try {
    await mkdir(etc);
    await mkdir(exportDir);
    await mkdir(mount);
    for (const key of ['host_key', 'client_key']) {
      const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `forge-netfs-${key}`, '-f', join(etc, key)]);
      if (r.code !== 0) throw new Error(`ssh-keygen failed (${r.code}): ${tail(r.stderr)}`);
    }
    await writeFile(join(etc, 'authorized_keys'), await readFile(`${clientKey}.pub`, 'utf8'));
    for (const file of ['host_key', 'client_key', 'authorized_keys']) await chmod(join(etc, file), 0o600);

    // The server. sshd wants its privilege separation folder, and daemonizes: the process
    // started here ends at once and the daemon's pid is in the pid file.
    const port = await freePort();
    const config = join(etc, 'sshd_config');
    await writeFile(config, sshdConfig(root, port));
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const started = await run(SSHD, ['-f', config, '-E', sshdLog]);
    if (started.code !== 0) {
      const log = await readFile(sshdLog, 'utf8').catch(() => '');
      throw new Error(`sshd did not start (exit ${started.code}): ${tail(started.stderr + log)}`);
    }
    const sshdEnd = Date.now() + SSHD_TIMEOUT_MS;
    while ((sshdPid = readSshdPid()) === null || !(await accepts(port))) {
      if (Date.now() >= sshdEnd) {
        const log = await readFile(sshdLog, 'utf8').catch(() => '');
        throw new Error(`sshd on 127.0.0.1:${port} not ready after ${SSHD_TIMEOUT_MS} ms (pid file: ${sshdPid ?? 'none'}); its log: ${tail(log)}`);
      }
      await sleep(20);
    }

    // The hosts. unshare execs sh, which sets the hostname and execs sshfs: the pid spawned
    // here is sshfs itself, the first process of the host's namespaces. Values reach the shell
    // as positional parameters, never inside its script.
    const sshfsOptions = [
      `IdentityFile=${clientKey}`,
      'StrictHostKeyChecking=no',
      'UserKnownHostsFile=/dev/null',
      'BatchMode=yes',
      'LogLevel=ERROR',
      'reconnect',
      'ServerAliveInterval=5',
      PROFILE_OPTIONS[options.profile],
    ].filter(Boolean).join(',');
    const script = 'hostname "$1" && exec sshfs -f -p "$2" -o "$3" "$4" "$5"';
    const startHost = async (host: string): Promise<void> => {
      const logFile = join(root, `sshfs-${host}.log`);
      const log = openSync(logFile, 'a');
      const holder = spawnChild(
        'unshare',
        ['-m', '-u', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', host, String(port), sshfsOptions, `root@127.0.0.1:${exportDir}`, mount],
        { detached: true, stdio: ['ignore', log, log] },
      );
      closeSync(log);
      holder.on('error', () => {}); // a failed start shows as an exit, below
      holder.unref();
      holders.set(host, holder);
      if (!holder.pid) throw new Error(`host ${host}: unshare could not be started`);
      // sshfs mounts first and connects afterwards (and ends when it cannot): the host is ready
      // when its mountinfo lists the mount and the mount answers a stat. The stat runs in a child
      // process, killed at the deadline, through /proc/<pid>/root, which resolves the path in
      // the host's mount namespace.
      const end = Date.now() + MOUNT_TIMEOUT_MS;
      let probe = '';
      for (;;) {
        const info = await readFile(`/proc/${holder.pid}/mountinfo`, 'utf8').catch(() => '');
        if (hasSshfsMount(info, mount)) {
          const r = await run('stat', ['-c', '%F', `/proc/${holder.pid}/root${mount}`], {
            timeout: Math.max(1, end - Date.now()), killSignal: 'SIGKILL',
          }).catch((err: Error) => ({ code: null, stdout: '', stderr: err.message }));
          if (r.code === 0) break;
          probe = r.stderr.trim() || `stat ended with ${r.code ?? 'a signal'}`;
        }
        const ended = holder.exitCode !== null || holder.signalCode !== null || !isRunning(holder.pid);
        if (ended || Date.now() >= end) {
          const why = ended ? `sshfs ended (${holder.exitCode ?? holder.signalCode ?? 'exit status unknown'})` : `not ready after ${MOUNT_TIMEOUT_MS} ms`;
          const sshfsLog = await readFile(logFile, 'utf8').catch(() => '');
          const serverLog = await readFile(sshdLog, 'utf8').catch(() => '');
          throw new Error(`host ${host}: no working sshfs mount at ${mount}: ${why}${probe ? `; a stat of it: ${probe}` : ''}; sshfs: ${tail(sshfsLog)}; sshd log: ${tail(serverLog)}`);
        }
        await sleep(20);
      }
    };
    // The hosts connect at the same time; every start is over before the first failure is thrown.
    const failed = (await Promise.allSettled(hosts.map(startHost))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  const holderPid = (host: string): number => {
    if (stopped) throw new Error(`the test bed in ${root} is stopped`);
    const pid = holders.get(host)?.pid;
    if (!pid) throw new Error(`no host ${JSON.stringify(host)} in this test bed (hosts: ${hosts.join(', ')})`);
    return pid;
  };

  const spawn = (host: string, cmd: string, args: readonly string[] = [], opts: HostSpawnOptions = {}): ChildProcess => {
    // Entering a mount namespace moves the working directory to its root: nsenter's --wdns
    // sets it there, as a path on the host (in the `=` form: util-linux 2.38 does not take the
    // value as a separate argument).
    const { cwd, ...rest } = opts;
    const wd = cwd === undefined ? [] : [`--wdns=${resolve(typeof cwd === 'string' ? cwd : fileURLToPath(cwd))}`];
    const child = spawnChild('nsenter', ['-t', String(holderPid(host)), '-m', '-u', ...wd, '--', cmd, ...args], {
      ...rest,
      env: rest.env ?? process.env,
      detached: true,
    });
    tracked.add(child);
    return child;
  };

  const exec = (host: string, cmd: string, args: readonly string[] = [], opts: HostSpawnOptions = {}): Promise<ExecResult> =>
    // The child stays tracked after it ends: anything it left running in its group dies with stop().
    collect(spawn(host, cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] }));

  return { root, exportDir, mount, hosts, profile: options.profile, spawn, exec, stop };
}
