// Which processes one `npm run rig` starts. By default the whole rig on this host: each
// managed GPU's LLM server, the brain and one agent per configured GPU. With `--role brain`
// only the brain; with `--role agents [--gpus 0,1]` only those agents (and their servers), so
// the brain and the agents can run on different hosts of one mount. Runtimes come first:
// the agents should find their server answering on their first probe.
// Pure: options in, the list of children or the problem with the options out.
import type { Config, GpuConfig } from '../core/config.ts';
import type { Entry } from '../core/entry.ts';
import { serveCommand, simulatorArgs } from './runtimeServers.ts';

export const ROLES = ['all', 'brain', 'agents'] as const;
export type Role = (typeof ROLES)[number];

/** runtime: a GPU's LLM server; the brain; an agent. Each kind has its restart policy. */
export type ChildKind = 'runtime' | 'brain' | 'agent';

/**
 * How a child is started: one of the project's entries through node (agents/core/entry.ts
 * chooses bundle or TypeScript at each start), or an executable (a real LLM server).
 */
export type Program =
  | { type: 'node'; entry: Entry; args: string[] }
  | {
      type: 'exec';
      file: string;
      args: string[];
      /** Added over the rig's environment. */
      env: Record<string, string>;
      /** The config field the command came from, named when it cannot start. */
      source: string;
    };

export interface ChildSpec {
  name: string;
  kind: ChildKind;
  /** The GPU an agent or runtime serves; null for the brain. */
  gpu: number | null;
  program: Program;
  /** A runtime's address, where the rig waits for it to listen before starting the agents. */
  listen: { host: string; port: number } | null;
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

/**
 * A GPU's server: simulated, the project's simulator for every GPU (it is what answers on a
 * simulated card, whatever `manage` says); real, the GPU's serve command, for managed GPUs only.
 */
export function runtimeChild(g: GpuConfig, config: Config, simulated: boolean, simDir: string): ChildSpec | null {
  if (!simulated && !g.manage) return null;
  const program: Program = simulated ? { type: 'node', entry: 'sim/ollama-main', args: simulatorArgs(g, config, simDir) } : { type: 'exec', ...serveCommand(g, config) };
  return { name: `runtime-${g.id}`, kind: 'runtime', gpu: g.id, program, listen: { host: config.ollama_host, port: g.port } };
}

export function planRole(o: { role: string | undefined; gpus: string | undefined; simulated: boolean; config: Config; configFile: string; shared: string; simDir: string }): RolePlan | string {
  const role = (o.role ?? 'all') as Role;
  if (!ROLES.includes(role)) return `--role ${o.role}: give one of ${ROLES.join(', ')} (all: the brain and the agents; brain: only the brain; agents: only the agents)`;
  if (role === 'brain' && o.gpus !== undefined) return '--gpus chooses agents: it goes with --role agents (or all), not --role brain';
  const ids = o.gpus === undefined ? o.config.gpus.map((g) => g.id) : parseGpuList(o.gpus, o.config);
  if (typeof ids === 'string') return ids;
  const gpus = role === 'brain' ? [] : o.config.gpus.filter((g) => ids.includes(g.id));
  const node = (entry: Entry, args: string[]): Program => ({ type: 'node', entry, args });
  const children: ChildSpec[] = [];
  for (const g of gpus) {
    const runtime = runtimeChild(g, o.config, o.simulated, o.simDir);
    if (runtime) children.push(runtime);
  }
  if (role !== 'agents') children.push({ name: 'brain', kind: 'brain', gpu: null, program: node('brain/main', ['--shared', o.shared, '--config', o.configFile]), listen: null });
  for (const g of gpus) {
    children.push({ name: g.name, kind: 'agent', gpu: g.id, program: node('gpu/main', ['--shared', o.shared, '--config', o.configFile, '--gpu', String(g.id)]), listen: null });
  }
  return { role, gpus: gpus.map((g) => g.id), children };
}
