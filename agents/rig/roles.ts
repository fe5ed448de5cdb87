// Which processes one `npm run rig` starts. By default the whole rig on this host: the brain
// and one agent per configured GPU (and, simulated, one Ollama simulator per GPU). With
// `--role brain` only the brain; with `--role agents [--gpus 0,1]` only those agents (and
// their simulators), so the brain and the agents can run on different hosts of one mount.
// Pure: options in, the list of children or the problem with the options out.
import type { Config } from '../core/config.ts';
import type { Entry } from '../core/entry.ts';

export const ROLES = ['all', 'brain', 'agents'] as const;
export type Role = (typeof ROLES)[number];

export interface ChildSpec {
  name: string;
  entry: Entry;
  args: string[];
}

export interface RolePlan {
  role: Role;
  /** GPU ids whose agents this rig runs. */
  gpus: number[];
  children: ChildSpec[];
}

/** Parses `--gpus 0,1,3` against the config's ids. */
export function parseGpuList(text: string, config: Config): number[] | string {
  const known = config.gpus.map((g) => g.id);
  const ids: number[] = [];
  for (const part of text.split(',').map((s) => s.trim())) {
    if (!/^\d+$/.test(part)) return `--gpus ${text}: give GPU ids separated by commas, e.g. --gpus 0,1`;
    const id = Number(part);
    if (!known.includes(id)) return `--gpus ${text}: GPU ${id} is not in the config (configured: ${known.join(', ')})`;
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

export function planRole(o: { role: string | undefined; gpus: string | undefined; simulated: boolean; config: Config; configFile: string; shared: string; simDir: string }): RolePlan | string {
  const role = (o.role ?? 'all') as Role;
  if (!ROLES.includes(role)) return `--role ${o.role}: give one of ${ROLES.join(', ')} (all: the brain and the agents; brain: only the brain; agents: only the agents)`;
  if (role === 'brain' && o.gpus !== undefined) return '--gpus chooses agents: it goes with --role agents (or all), not --role brain';
  const ids = o.gpus === undefined ? o.config.gpus.map((g) => g.id) : parseGpuList(o.gpus, o.config);
  if (typeof ids === 'string') return ids;
  const children: ChildSpec[] = [];
  const gpus = role === 'brain' ? [] : o.config.gpus.filter((g) => ids.includes(g.id));
  if (o.simulated) {
    for (const g of gpus) children.push({ name: `ollama-${g.id}`, entry: 'sim/ollama-main', args: ['--port', String(g.port), '--gpu', String(g.id), '--sim-dir', o.simDir] });
  }
  if (role !== 'agents') children.push({ name: 'brain', entry: 'brain/main', args: ['--shared', o.shared, '--config', o.configFile] });
  for (const g of gpus) children.push({ name: g.name, entry: 'gpu/main', args: ['--shared', o.shared, '--config', o.configFile, '--gpu', String(g.id)] });
  return { role, gpus: gpus.map((g) => g.id), children };
}
