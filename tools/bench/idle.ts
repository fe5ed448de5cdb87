// 5. Idle cost: the CPU the rig (launcher, brain, agents, and every short-lived helper they
// run, such as nvidia-smi) uses with nothing to do, as a fraction of one core. The
// simulator's Ollama servers stand in for an outside service and are shown apart.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { cliBundleIsFresh, projectRoot } from '../../agents/core/entry.ts';
import { type ProcInfo, readTree, roleOf } from './procStat.ts';
import { makeMount, startRigSession } from './rigSession.ts';
import { measureSmiCallCost, readSmiCalls } from '../../agents/sim/smiCalls.ts';

export interface IdleResult {
  gpus: number;
  seconds: number;
  /** Launcher, brain and agents with their children, CPU seconds over the window. */
  rig_cpu_s: number;
  core_fraction: number;
  /** The simulated Ollama servers and the simulated nvidia-smi runs (not part of a real rig), in cores. */
  simulator_core_fraction: number;
  /** Calls of the simulated nvidia-smi in the window (cached; by node). */
  smi_calls: { hits: number; misses: number };
  /**
   * Cores per role over the window. `children` is what a process's exited children used
   * (the agents' nvidia-smi runs: here the simulator, a Node process per call).
   */
  by_role: Record<string, { own: number; children: number }>;
  /** `forge status --json` against the idle rig's mount, started as a person starts it (bin/forge), after the CPU window. */
  status_json: { runs: number; median_ms: number; p90_ms: number; via: string; node_ms: number } | null;
}

/**
 * Runs `bin/forge status --json` `runs` times, one after another; each must print JSON. Wall ms
 * each. Between them, `node -e 0` as often: the floor no command started by node goes below.
 */
export async function timeStatusJson(shared: string, runs: number): Promise<{ runs: number; median_ms: number; p90_ms: number; via: string; node_ms: number }> {
  const forge = join(projectRoot, 'bin', 'forge');
  const ms: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    const b0 = performance.now();
    await execa(process.execPath, ['-e', '0']);
    bare.push(performance.now() - b0);
    const t0 = performance.now();
    const r = await execa(process.execPath, [forge, 'status', '--json', '--shared', shared], { reject: false });
    ms.push(performance.now() - t0);
    if (r.exitCode !== 0) throw new Error(`forge status --json exited ${r.exitCode}: ${String(r.stderr).slice(-300)}`);
    JSON.parse(String(r.stdout));
  }
  ms.sort((a, b) => a - b);
  bare.sort((a, b) => a - b);
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!);
  return { runs, median_ms: at(0.5), p90_ms: at(0.9), node_ms: Math.round(bare[bare.length >> 1]!), via: cliBundleIsFresh() ? 'bin/forge, from its bundle (dist/cli)' : 'bin/forge through tsx (no fresh build)' };
}

export function isSimulator(role: string): boolean {
  return role.startsWith('sim ');
}

/** CPU per role between two readings of a tree (pure). */
export function cpuByRole(before: ProcInfo[], after: ProcInfo[], seconds: number): IdleResult['by_role'] {
  const prev = new Map(before.map((p) => [p.pid, p]));
  const out: IdleResult['by_role'] = {};
  for (const p of after) {
    const b = prev.get(p.pid);
    const children = p.childrenS - (b?.childrenS ?? 0);
    const own = p.cpuS - p.childrenS - (b ? b.cpuS - b.childrenS : 0);
    const role = roleOf(p.cmdline);
    const cur = out[role] ?? { own: 0, children: 0 };
    out[role] = { own: cur.own + own / seconds, children: cur.children + children / seconds };
  }
  return out;
}

export async function measureIdle(gpus: number, seconds: number, settleS: number): Promise<IdleResult> {
  const paths = await makeMount('forge-bench-idle-');
  const session = await startRigSession(paths, gpus, { removeOnStop: true });
  try {
    // Let start-up work (loading modules, first telemetry, first heartbeats) finish first.
    await sleep(settleS * 1000);
    const smiBefore = await readSmiCalls(session.paths.sim);
    const before = await readTree(session.launcherPid);
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const after = await readTree(session.launcherPid);
    const elapsed = (Date.now() - t0) / 1000;
    const smiAfter = await readSmiCalls(session.paths.sim);
    const byRole = cpuByRole(before, after, elapsed);
    let rig = 0;
    let sim = 0;
    for (const [role, c] of Object.entries(byRole)) {
      if (isSimulator(role)) sim += c.own + c.children;
      else rig += c.own + c.children;
    }
    // The agents' nvidia-smi runs are the simulator's, not the rig's: priced per call on this
    // machine and moved apart (a real nvidia-smi costs about 26 ms a reading).
    const hits = smiAfter.hits - smiBefore.hits;
    const misses = smiAfter.misses - smiBefore.misses;
    const price = hits + misses > 0 ? await measureSmiCallCost(20) : { hitMs: 0, missMs: 0 };
    const smi = Math.min(rig, (hits * price.hitMs + misses * price.missMs) / 1000 / elapsed);
    rig -= smi;
    sim += smi;
    const status_json = await timeStatusJson(paths.root, 15);
    return { gpus, seconds: elapsed, rig_cpu_s: rig * elapsed, core_fraction: rig, simulator_core_fraction: sim, smi_calls: { hits, misses }, by_role: byRole, status_json };
  } finally {
    await session.stop();
  }
}
