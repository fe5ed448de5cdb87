// The shell task sandbox: bubblewrap (bwrap) around a task's argv. The executor policy
// (policy.ts) only warns early about what it can see in an argv; this is what holds a task in:
// - the whole file system read-only, except the task's batch folder (read-write) and a
//   private /tmp; a minimal /dev plus the NVIDIA device nodes, so a GPU task sees its GPU;
// - its own pid namespace with a fresh /proc: nothing outside is visible or killable, and
//   everything the task started dies when the task ends (bwrap's init is the namespace's
//   pid 1; when it exits the kernel kills the rest), and with bwrap, which dies with the worker;
// - its own network (a loopback with nothing listening), IPC and UTS namespaces.
//
// --new-session puts the task in a session and process group of its own, led by bwrap's init
// (the namespace's pid 1, a host pid outside): a kill(0) from inside reaches only the sandbox,
// never bwrap, and that group is the one the worker reports as the task's (runShell.ts), so
// the agent measures its GPU memory and kills it by group as before.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { execa } from 'execa';
import type { SandboxConfig } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import { isSafeName, mountPaths } from '../core/paths.ts';
import type { Task } from '../core/task.ts';

/** The Debian package that holds /usr/bin/bwrap. */
export const BWRAP_PACKAGE = 'bubblewrap';

/** How the worker starts a task inside bwrap. */
export interface SandboxLaunch {
  bwrapPath: string;
  /** bwrap's options: everything before its status descriptor and '--'. */
  args: string[];
}

export interface RunAs {
  uid: number;
  gid: number;
}

/** Real paths (symlinks resolved) the sandbox is built from. */
export interface SandboxPaths {
  batchPath: string;
  cwd: string;
  mountRoot: string;
  /** Device nodes passed through as they are, e.g. /dev/nvidia0, /dev/nvidiactl. */
  devices: string[];
}

const NAMESPACES = ['--unshare-pid', '--unshare-net', '--unshare-ipc', '--unshare-uts', '--new-session', '--die-with-parent'];

/** bwrap's options for one task: the order matters, a later mount covers an earlier one. */
export function bwrapArgs(p: SandboxPaths): string[] {
  const args = ['--ro-bind', '/', '/', '--dev', '/dev'];
  for (const d of p.devices) args.push('--dev-bind-try', d, d);
  args.push('--proc', '/proc', '--tmpfs', '/tmp');
  // The private /tmp hides the host's: a mount or plan folder that lives there comes back, read-only.
  const shown: string[] = [];
  for (const dir of [p.mountRoot, p.cwd]) {
    if (isInside(dir, '/tmp') && !shown.some((s) => s === dir || isInside(dir, s))) {
      args.push('--ro-bind', dir, dir);
      shown.push(dir);
    }
  }
  args.push('--bind', p.batchPath, p.batchPath, ...NAMESPACES, '--chdir', p.cwd);
  return args;
}

/** What the probe runs: the same namespaces and mounts, and bwrap itself inside, so it needs no other program. */
export function probeArgs(bwrapPath: string): string[] {
  return ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', ...NAMESPACES, '--', bwrapPath, '--version'];
}

function isInside(path: string, dir: string): boolean {
  return path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** Whether `batch` is <plans>/<plan>/batches/<batch>, the one shape a batch folder has. */
export function isBatchFolder(batch: string, plans: string): boolean {
  const rel = relative(plans, batch);
  if (rel === '' || isAbsolute(rel)) return false;
  const parts = rel.split(sep);
  return parts.length === 3 && parts[1] === 'batches' && isSafeName(parts[0]!) && isSafeName(parts[2]!);
}

export type ProbeResult = { ok: true } | { ok: false; reason: string };

export type SandboxDecision = { run: 'sandboxed' } | { run: 'uncontained'; why: string } | { run: 'refused'; reason: string };

/** From the configured mode and whether bwrap works here (null: not probed, mode off). */
export function decideSandbox(cfg: Pick<SandboxConfig, 'mode' | 'bwrap_path'>, probe: ProbeResult | null): SandboxDecision {
  if (cfg.mode === 'off') return { run: 'uncontained', why: 'sandbox.mode is "off" in config.json' };
  if (probe?.ok) return { run: 'sandboxed' };
  const cause = probe ? probe.reason : 'it was not tried';
  if (cfg.mode === 'auto') {
    return {
      run: 'uncontained',
      why: `bubblewrap cannot run here (${cause}) and sandbox.mode is "auto"; install the Debian package ${BWRAP_PACKAGE} to contain tasks`,
    };
  }
  return {
    run: 'refused',
    reason:
      `sandbox.mode is "require" in config.json, but bubblewrap cannot run here: ${cause}. ` +
      `Install the Debian package ${BWRAP_PACKAGE} (apt-get install ${BWRAP_PACKAGE}), or point sandbox.bwrap_path at bwrap, ` +
      'or set sandbox.mode to "auto" to run tasks uncontained',
  };
}

/** Runs bwrap with the task's namespaces (as the task's user): ok when it works here. */
export async function probeBwrap(bwrapPath: string, runAs: RunAs | null): Promise<ProbeResult> {
  if (!existsSync(bwrapPath)) return { ok: false, reason: `${bwrapPath} does not exist` };
  const r = await execa(bwrapPath, probeArgs(bwrapPath), {
    reject: false,
    stdin: 'ignore',
    timeout: 15_000,
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  if (r.exitCode === 0) return { ok: true };
  const said = String(r.stderr ?? '').trim().split('\n').at(-1) || r.shortMessage || `exit code ${String(r.exitCode)}`;
  return { ok: false, reason: `${bwrapPath} failed: ${said}` };
}

/** sandbox.user as a uid and gid; null when unset. Throws a message naming the setting. */
export async function resolveRunAs(user: SandboxConfig['user']): Promise<RunAs | null> {
  if (user === null) return null;
  const name = String(user);
  const id = async (flag: '-u' | '-g') => {
    const r = await execa('id', [flag, name], { reject: false, timeout: 10_000 });
    return r.exitCode === 0 && /^\d+$/.test(String(r.stdout).trim()) ? Number(String(r.stdout).trim()) : null;
  };
  const uid = await id('-u');
  const numeric = /^\d+$/.test(name) ? Number(name) : null;
  if (uid === null && numeric === null) throw new Error(`sandbox.user "${name}" in config.json: no such user (give a user name or a uid)`);
  const runAs = { uid: uid ?? numeric!, gid: (await id('-g')) ?? numeric ?? uid! };
  const me = process.getuid?.();
  if (me !== undefined && me !== 0 && me !== runAs.uid) {
    throw new Error(`sandbox.user "${name}" in config.json: running tasks as another user needs a worker running as root (it runs as uid ${me})`);
  }
  return runAs;
}

export type SandboxChoice =
  | { kind: 'sandboxed'; launch: SandboxLaunch; runAs: RunAs | null }
  | { kind: 'uncontained'; why: string; runAs: RunAs | null }
  | { kind: 'refused'; outcome: 'error' | 'blocked'; failureKind: 'infra' | 'app'; reason: string };

/** Everything the worker needs to decide before a shell task runs, contained or not. */
export async function prepareSandbox(task: Task, cfg: SandboxConfig, mountRoot: string): Promise<SandboxChoice> {
  let runAs: RunAs | null;
  try {
    runAs = await resolveRunAs(cfg.user);
  } catch (err) {
    return { kind: 'refused', outcome: 'error', failureKind: 'infra', reason: errorMessage(err) };
  }
  const decision = decideSandbox(cfg, cfg.mode === 'off' ? null : await probeBwrap(cfg.bwrap_path, runAs));
  if (decision.run === 'refused') return { kind: 'refused', outcome: 'error', failureKind: 'infra', reason: decision.reason };
  if (decision.run === 'uncontained') return { kind: 'uncontained', why: decision.why, runAs };
  const paths = await sandboxPaths(task, mountRoot);
  if (!paths.ok) {
    return paths.infra
      ? { kind: 'refused', outcome: 'error', failureKind: 'infra', reason: paths.reason }
      : { kind: 'refused', outcome: 'blocked', failureKind: 'app', reason: paths.reason };
  }
  return { kind: 'sandboxed', launch: { bwrapPath: cfg.bwrap_path, args: bwrapArgs(paths.paths) }, runAs };
}

/**
 * The real paths of the task's folders. The batch folder becomes writable, so it must be one:
 * <mount>/plans/<plan>/batches/<batch>, also after symlinks are resolved (a task file on the
 * mount could name "/" or a symlink to /etc). A swap of a folder for a symlink between this
 * check and bwrap's mount is not caught: that takes write access to the mount and timing.
 */
export async function sandboxPaths(task: Task, mountRoot: string): Promise<{ ok: true; paths: SandboxPaths } | { ok: false; infra: boolean; reason: string }> {
  const plans = mountPaths(mountRoot).plans;
  const form = join(plans, '<plan>', 'batches', '<batch>');
  const refuse = (what: string) => ({
    ok: false as const,
    infra: false,
    reason: `blocked: the task's batch_path ${task.batch_path} ${what}; the sandbox makes only a batch folder of the mount writable (${form})`,
  });
  if (!isBatchFolder(resolve(task.batch_path), resolve(plans))) return refuse('is not a batch folder');
  let real: string[];
  try {
    real = await Promise.all([task.batch_path, plans, task.cwd, mountRoot].map((p) => realpath(p)));
  } catch (err) {
    return { ok: false, infra: true, reason: `the task's folders cannot be found (is the shared mount up?): ${errorMessage(err)}` };
  }
  const [batchPath, realPlans, cwd, root] = real as [string, string, string, string];
  if (!isBatchFolder(batchPath, realPlans) || !statSync(batchPath).isDirectory()) return refuse(`leads to ${batchPath}, which is not a batch folder`);
  return { ok: true, paths: { batchPath, cwd, mountRoot: root, devices: gpuDevices() } };
}

/** The NVIDIA device nodes of this host (/dev/nvidia0, /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-caps, ...). */
export function gpuDevices(dev = '/dev'): string[] {
  try {
    return readdirSync(dev)
      .filter((n) => n.startsWith('nvidia'))
      .sort()
      .map((n) => join(dev, n));
  } catch {
    return [];
  }
}

/** One line for the agent's START entry: whether its shell tasks will be contained. */
export async function describeSandbox(cfg: SandboxConfig): Promise<string> {
  try {
    const runAs = await resolveRunAs(cfg.user);
    const as = runAs ? ` as uid ${runAs.uid}` : '';
    const d = decideSandbox(cfg, cfg.mode === 'off' ? null : await probeBwrap(cfg.bwrap_path, runAs));
    if (d.run === 'sandboxed') return `shell tasks run in the ${cfg.bwrap_path} sandbox${as}`;
    if (d.run === 'uncontained') return `shell tasks run UNCONTAINED${as}: ${d.why}`;
    return `shell tasks are refused: ${d.reason}`;
  } catch (err) {
    return `shell tasks are refused: ${errorMessage(err)}`;
  }
}
