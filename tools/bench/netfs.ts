// npm run bench -- --netfs: the hop and the throughput with the brain and the agents on
// different clients of one network folder, per client cache profile, beside the same figures
// on one local folder. Hosts are mount + UTS namespaces, each with its own sshfs client of a
// folder a private sshd exports on loopback (netfsBed.ts); the rig runs on its default cycles,
// so what the figures show is what a user's rig does across machines.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBrainState } from '../../agents/core/batch.ts';
import { type ConfigInput, defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { errorMessage } from '../../agents/core/errors.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { type MountPaths, ensureMount, mountPaths } from '../../agents/core/paths.ts';
import { waitFor } from '../harness/runRig.ts';
import { SIM_SANDBOX, initSimState, simNvidiaSmiPath } from '../../agents/sim/simState.ts';
import { measureHop, type HopResult } from './hop.ts';
import { type CacheProfile, PROFILE_OPTIONS, type TestBed, netfsMissing, startTestBed } from './netfsBed.ts';
import { type RigSession, makeMount, runPlan, startRigSession } from './rigSession.ts';
import { measureThroughput, type ThroughputResult } from './throughput.ts';
import { num } from './report.ts';

const root = new URL('../..', import.meta.url).pathname;
export const PROFILES = ['none', 'nfs', 'default'] as const satisfies readonly CacheProfile[];

export interface NetfsCounts {
  chainLinks: number;
  throughputTasks: number;
  /** Simulated GPUs: half on host B, half on host C. */
  gpus: number;
}
export const NETFS_FULL: NetfsCounts = { chainLinks: 30, throughputTasks: 200, gpus: 4 };
export const NETFS_QUICK: NetfsCounts = { chainLinks: 5, throughputTasks: 20, gpus: 2 };

export interface NetfsRow {
  /** 'local' (one folder, one host) or a cache profile. */
  setup: 'local' | CacheProfile;
  /** The sshfs options of the profile ('' for local). */
  options: string;
  hop: HopResult | null;
  throughput: ThroughputResult | null;
  note: string | null;
}

export interface NetfsResult {
  counts: NetfsCounts;
  rows: NetfsRow[];
  /** The target: a dependency hop within 2 s on the NFS-like profile. */
  hop_target_ms: number;
  hop_met: boolean | null;
  wall_s: number;
}

export interface AcrossHosts {
  /** The server's own view of the mount: no client cache in front of it. */
  server: MountPaths;
  /** Starts the launcher with these arguments on a host (the hosts see the mount at bed.mount). */
  rig(host: string, args: string[]): ChildProcess;
  /** Every launcher started, in order: the brain's on A first. */
  launchers: ChildProcess[];
  /** SIGTERM to every launcher still running, up to 15 s for them to stop, then the bed's own stop. */
  stop(): Promise<void>;
}

/**
 * A rig across three hosts of a test bed: the brain on A, the agents of `gpus` simulated GPUs
 * split between B and C, each through the real launcher. Waits until every agent beats and the
 * brain has said where it has the mount. `config` goes into config.json beside the simulator's
 * settings; `onExit` hears of a launcher that ended, with the tail of its stderr.
 */
export async function startAcrossHosts(
  bed: TestBed,
  o: { gpus: number; config?: Partial<ConfigInput>; onExit?: (host: string, args: string[], how: string, stderr: string) => void },
): Promise<AcrossHosts> {
  const launchers: ChildProcess[] = [];
  let stopping = false;
  const rig = (host: string, args: string[]): ChildProcess => {
    const p = bed.spawn(host, process.execPath, ['--import', 'tsx', join(root, 'agents/rig/main.ts'), '--shared', bed.mount, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    p.on('exit', (code, sig) => {
      if (!stopping) o.onExit?.(host, args, String(code ?? sig), err);
    });
    launchers.push(p);
    return p;
  };
  const stop = async () => {
    stopping = true;
    const live = launchers.filter((p) => p.exitCode === null && p.signalCode === null);
    for (const p of live) p.kill('SIGTERM');
    // The launchers stop their children and exit; the bed kills whatever is left after that.
    await Promise.race([Promise.all(live.map((p) => new Promise((r) => p.once('exit', r)))), new Promise((r) => setTimeout(r, 15_000))]);
    await bed.stop();
  };
  const server = mountPaths(bed.exportDir);
  try {
    await ensureMount(server);
    await initSimState(server.sim, o.gpus);
    // Paths in the config are the hosts' view of the mount, as on a real rig.
    await writeConfig(server.config, { gpus: defaultGpus(o.gpus, 11435), nvidia_smi: simNvidiaSmiPath(), worker_env: { FORGE_SIM_DIR: join(bed.mount, 'sim') }, sandbox: SIM_SANDBOX, ...o.config });
    const ids = Array.from({ length: o.gpus }, (_, i) => i);
    const half = Math.ceil(o.gpus / 2);
    rig('A', ['--role', 'brain']);
    rig('B', ['--role', 'agents', '--gpus', ids.slice(0, half).join(',')]);
    if (o.gpus > half) rig('C', ['--role', 'agents', '--gpus', ids.slice(half).join(',')]);
    await waitFor('the brain and every agent across the hosts', async () => {
      const beats = await Promise.all(ids.map((i) => readHeartbeat(server, i)));
      return beats.every((b) => b !== null) && (await readBrainState(server))?.shared_root === bed.mount;
    }, 120_000, 200);
  } catch (err) {
    await stop();
    throw err;
  }
  return { server, rig, launchers, stop };
}

/** The bench's rig across hosts on a fresh bed, default cycles; submissions and readings go through the server's own folder. */
async function startNetfsSession(profile: CacheProfile, gpus: number): Promise<RigSession> {
  const bed = await startTestBed({ hosts: ['A', 'B', 'C'], profile, prefix: 'forge-bench-netfs-' });
  const { server, stop } = await startAcrossHosts(bed, { gpus });
  return { shared: server.root, paths: server, launcherPid: -1, runPlan: (plan, ms) => runPlan(server, plan, ms), pidOf: async () => null, stop };
}

async function measureRow(setup: NetfsRow['setup'], counts: NetfsCounts, tmp: string, say: (l: string) => void): Promise<NetfsRow> {
  const row: NetfsRow = { setup, options: setup === 'local' ? '' : PROFILE_OPTIONS[setup], hop: null, throughput: null, note: null };
  say(`bench --netfs: ${setup}: starting the rig`);
  let session: RigSession;
  try {
    session = setup === 'local' ? await startRigSession(await makeMount('forge-bench-local-'), counts.gpus, { removeOnStop: true }) : await startNetfsSession(setup, counts.gpus);
  } catch (err) {
    row.note = `the rig did not start: ${errorMessage(err)}`;
    return row;
  }
  try {
    say(`bench --netfs: ${setup}: hop (a chain of ${counts.chainLinks})`);
    row.hop = await measureHop(session, tmp, counts.chainLinks, 600_000);
    say(`bench --netfs: ${setup}: throughput (${counts.throughputTasks} tasks)`);
    row.throughput = await measureThroughput(session, tmp, counts.throughputTasks, 600_000);
  } catch (err) {
    row.note = errorMessage(err);
  } finally {
    await session.stop();
  }
  return row;
}

export async function runNetfsBench(o: { quick: boolean; profiles?: readonly CacheProfile[]; say: (l: string) => void }): Promise<NetfsResult> {
  const t0 = Date.now();
  const missing = netfsMissing();
  if (missing) throw new Error(`bench --netfs cannot run here: ${missing}`);
  const counts = o.quick ? NETFS_QUICK : NETFS_FULL;
  const tmp = await mkdtemp(join(tmpdir(), 'forge-bench-netfs-plans-'));
  const rows: NetfsRow[] = [];
  try {
    for (const setup of ['local' as const, ...(o.profiles ?? PROFILES)]) rows.push(await measureRow(setup, counts, tmp, o.say));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const nfs = rows.find((r) => r.setup === 'nfs')?.hop?.hop.median_ms ?? null;
  return { counts, rows, hop_target_ms: 2000, hop_met: nfs === null ? null : nfs <= 2000, wall_s: (Date.now() - t0) / 1000 };
}

/** The figures as a table (docs/PERFORMANCE.md shows it). */
export function renderNetfsTable(r: NetfsResult): string {
  const head = ['setup', 'hop median (p95)', 'release median', 'claim median', 'throughput', 'batch of ' + r.counts.throughputTasks];
  const lines = rows(r).map((c) => c.join(' | '));
  const out = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...lines.map((l) => `| ${l} |`)];
  out.push('', `A chain of ${r.counts.chainLinks} and ${r.counts.throughputTasks} independent no-op tasks, ${r.counts.gpus} simulated GPUs; brain on host A, agents on B and C, default cycles.`);
  out.push(`Target: hop median on the NFS-like profile within ${r.hop_target_ms} ms: ${r.hop_met === null ? 'not measured' : r.hop_met ? 'met' : 'NOT met'}. Took ${num(r.wall_s, ' s', 0)}.`);
  for (const row of r.rows) if (row.note) out.push(`${row.setup}: ${row.note}`);
  return out.join('\n');
}

function rows(r: NetfsResult): string[][] {
  return r.rows.map((row) => {
    const H = row.hop;
    const T = row.throughput;
    const name = row.setup === 'local' ? 'local folder, one host' : `${row.setup} (${row.options || 'sshfs defaults'})`;
    return [
      name,
      H ? `${num(H.hop.median_ms, ' ms')} (${num(H.hop.p95_ms, ' ms')})` : '-',
      H ? num(H.steps.release.median_ms, ' ms') : '-',
      H ? num(H.steps.claim.median_ms, ' ms') : '-',
      T ? num(T.tasks_per_s, ' tasks/s', 2) : '-',
      T ? num(T.end_to_end_s, ' s', 1) : '-',
    ];
  });
}
