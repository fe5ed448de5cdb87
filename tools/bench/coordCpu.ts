// The rig's own cost per task: CPU of the launcher, the brain and the agents over a run,
// divided by the tasks it ran. The agents' exited children are the workers (the work itself,
// which BullMQ's side pays too) and their nvidia-smi readings, so they are shown apart from
// the coordination; so are the simulator's Ollama servers. Read from /proc at two moments.
import { type ProcInfo, readTree, roleOf } from './procStat.ts';

export interface CoordCpu {
  tasks: number;
  /** Launcher + brain (with its exited children: plan parsing) + agents' own, per task, ms. */
  coord_ms_per_task: number;
  /** Each role's own CPU per task, ms (agents summed under 'agents'). */
  by_role_ms_per_task: Record<string, number>;
  /** What the agents' exited children used (workers and nvidia-smi runs), per task, ms. */
  agent_children_ms_per_task: number;
  /** The simulated Ollama servers, per task, ms. */
  simulator_ollama_ms_per_task: number;
}

/** A role's group for the figures: every agent under 'agents'. */
function group(role: string): string {
  return role.startsWith('agent ') ? 'agents' : role;
}

/** CPU per task between two readings of the rig's tree (pure). Processes that exited in between count through their parent. */
export function coordCpu(before: ProcInfo[], after: ProcInfo[], tasks: number): CoordCpu {
  const prev = new Map(before.map((p) => [p.pid, p]));
  const own: Record<string, number> = {};
  let agentChildren = 0;
  let brainChildren = 0;
  let simulator = 0;
  for (const p of after) {
    const b = prev.get(p.pid);
    const o = p.cpuS - p.childrenS - (b ? b.cpuS - b.childrenS : 0);
    const c = p.childrenS - (b?.childrenS ?? 0);
    const g = group(roleOf(p.cmdline));
    if (g.startsWith('sim ')) {
      simulator += o + c;
      continue;
    }
    if (g === 'worker' || g === 'other') continue; // a live worker's CPU is counted when it exits, in its agent's children
    own[g] = (own[g] ?? 0) + o;
    if (g === 'agents') agentChildren += c;
    if (g === 'brain') brainChildren += c;
  }
  const per = (s: number) => Math.round((s * 1000 * 100) / Math.max(1, tasks)) / 100;
  const coord = Object.values(own).reduce((a, b) => a + b, 0) + brainChildren;
  const byRole: Record<string, number> = {};
  for (const [k, v] of Object.entries(own)) byRole[k] = per(v);
  if (brainChildren > 0) byRole['brain children'] = per(brainChildren);
  return { tasks, coord_ms_per_task: per(coord), by_role_ms_per_task: byRole, agent_children_ms_per_task: per(agentChildren), simulator_ollama_ms_per_task: per(simulator) };
}

/** Reads the rig's tree, for coordCpu. */
export function snapshot(launcherPid: number): Promise<ProcInfo[]> {
  return readTree(launcherPid);
}
