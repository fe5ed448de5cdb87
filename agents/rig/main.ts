// npm run rig -- [--simulate N] [--role all|brain|agents] [--gpus 0,1] [--base-port P] [--shared DIR]
// Starts the brain and one agent per configured GPU (and, simulated, the simulator's Ollama
// servers), restarts what dies (at most 3 times in 10 minutes, with backoff), and stops
// everything, running workers included, on SIGINT/SIGTERM. `--role brain` runs only the
// brain, `--role agents [--gpus 0,1]` only those agents (agents/rig/roles.ts).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { parseCommand } from '../core/args.ts';
import { type Config, loadConfig, writeConfig, defaultGpus } from '../core/config.ts';
import { DecisionLog } from '../core/decisionLog.ts';
import { type Entry, nodeArgsFor } from '../core/entry.ts';
import { UserInputError, errorMessage } from '../core/errors.ts';
import { EXIT_REFUSED, startDaemon } from '../core/lifecycle.ts';
import { ensureMount, mountPaths } from '../core/paths.ts';
import { initSimState } from '../sim/simState.ts';
import { decideRestart } from './restartPolicy.ts';
import { simulatedConfig } from './simulate.ts';
import { planRole } from './roles.ts';

const usage = `usage: npm run rig -- [--simulate N] [--role all|brain|agents] [--gpus 0,1] [--base-port P] [--shared DIR]
  --simulate N   N simulated GPUs (ids 0..N-1), for a machine without one
  --role R       all (default): the brain and the agents; brain: only the brain; agents: only the agents
  --gpus IDS     with --role agents (or all): only these GPUs' agents, e.g. --gpus 0,1`;
const { values, positionals, shared } = parseCommand(usage, { simulate: { type: 'string' }, 'base-port': { type: 'string' }, role: { type: 'string' }, gpus: { type: 'string' } });
if (positionals.length) {
  process.stderr.write(`unexpected argument '${positionals[0]}': the rig takes only options (did you write \`npm run rig --simulate 3\` without the \`--\`? npm keeps options before \`--\` for itself)\n${usage}\n`);
  process.exit(2);
}
const paths = mountPaths(shared);
await ensureMount(paths);
const daemon = startDaemon('rig');
const decisions = DecisionLog.spool(paths, 'rig');

function fail(msg: string): never {
  process.stderr.write(msg + '\n');
  process.exit(1);
}

async function prepareConfig(): Promise<{ config: Config; file: string }> {
  const simulate = values.simulate === undefined ? null : Number(values.simulate);
  if (simulate !== null && (!Number.isInteger(simulate) || simulate < 1 || simulate > 16)) {
    fail(`--simulate ${values.simulate}: give a number of GPUs from 1 to 16`);
  }
  const basePort = values['base-port'] === undefined ? 11435 : Number(values['base-port']);
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort > 65000) fail(`--base-port ${values['base-port']}: give a port from 1024 to 65000`);
  let base: Config | null = null;
  if (existsSync(paths.config)) {
    try {
      base = await loadConfig(paths.config);
    } catch (err) {
      fail(err instanceof UserInputError ? err.message : errorMessage(err));
    }
  }
  if (simulate === null) {
    if (base) return { config: base, file: paths.config };
    const count = await countRealGpus();
    if (count === 0) fail(`no ${paths.config} and no GPU found by nvidia-smi; run with --simulate N to simulate N GPUs`);
    const config = await writeConfig(paths.config, { gpus: defaultGpus(count, basePort) });
    daemon.log(`wrote a default config for ${count} GPU(s) to ${paths.config}`);
    return { config, file: paths.config };
  }
  const simDir = paths.sim;
  await initSimState(simDir, simulate);
  const sim = simulatedConfig(base, simulate, simDir, basePort);
  // A real config on the mount is left as it is; the simulated one lives beside the simulator.
  const file = base ? join(simDir, 'config.json') : paths.config;
  await mkdir(simDir, { recursive: true });
  const config = await writeConfig(file, sim);
  daemon.log(`simulating ${simulate} GPU(s); config ${file}`);
  return { config, file };
}

async function countRealGpus(): Promise<number> {
  const r = await execa('nvidia-smi', ['-L'], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) return 0;
  return String(r.stdout).split('\n').filter((l) => l.startsWith('GPU ')).length;
}

interface Child {
  name: string;
  /** The process's entry point; node's arguments for it are chosen at each start (agents/core/entry.ts). */
  entry: Entry;
  args: string[];
  proc: ResultPromise | null;
  restarts: number[];
  down: boolean;
}

const { config, file: configFile } = await prepareConfig();
const roles = planRole({ role: values.role, gpus: values.gpus, simulated: values.simulate !== undefined, config, configFile, shared: paths.root, simDir: paths.sim });
if (typeof roles === 'string') fail(roles);
let stopping = false;
const children: Child[] = roles.children.map((c) => ({ ...c, proc: null, restarts: [], down: false }));

function prefixLines(name: string, stream: NodeJS.ReadableStream | null | undefined, out: NodeJS.WriteStream): void {
  let buf = '';
  stream?.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      out.write(`[${name}] ${buf.slice(0, i)}\n`);
      buf = buf.slice(i + 1);
    }
  });
}

function launch(c: Child): void {
  const proc = execa(process.execPath, [...nodeArgsFor(c.entry), ...c.args], { reject: false, stdin: 'ignore', cleanup: true, env: { ...process.env, RIG_SHARED: paths.root } });
  c.proc = proc;
  prefixLines(c.name, proc.stdout, process.stdout);
  prefixLines(c.name, proc.stderr, process.stderr);
  void proc.then(async (res) => {
    c.proc = null;
    if (stopping) return;
    if (res.exitCode === 0) {
      daemon.log(`${c.name} exited by itself (exit 0); not restarted`);
      return;
    }
    const how = res.signal ? `signal ${res.signal}` : `exit ${res.exitCode}`;
    if (res.exitCode === EXIT_REFUSED) {
      // Another process holds its place (a brain on this mount, an agent of this name), or the mount is at another path than the brain's: a restart would be refused again.
      c.down = true;
      const msg = `${c.name} refused to start (its own output above says why: another ${c.name} holds its place, or the mount is at another path than the brain's); not restarted`;
      process.stderr.write(`\n!!! ${msg}\n\n`);
      await decisions.write({ who: 'rig', what: 'GIVE_UP', reason: msg }).catch(() => {});
      return;
    }
    const verdict = decideRestart(c.restarts, Date.now());
    if (!verdict.restart) {
      c.down = true;
      const msg = `${c.name} DIED (${how}) and STAYS DOWN: ${verdict.reason}. Fix the cause, then restart the rig.`;
      process.stderr.write(`\n!!! ${msg}\n\n`);
      await decisions.write({ who: 'rig', what: 'GIVE_UP', reason: msg }).catch(() => {});
      return;
    }
    c.restarts.push(Date.now());
    await decisions.write({ who: 'rig', what: 'RESTART', reason: `${c.name} died (${how}); restart ${verdict.n} of 3 in ${verdict.delayMs} ms` }).catch(() => {});
    daemon.log(`${c.name} died (${how}); restarting in ${verdict.delayMs} ms (restart ${verdict.n} of 3 in 10 minutes)`);
    setTimeout(() => {
      if (!stopping) launch(c);
    }, verdict.delayMs);
  });
}

daemon.onStop(async () => {
  stopping = true;
  // Agents first get SIGTERM: they stop their workers (tasks go back as infra failures) and write a last heartbeat.
  const live = children.filter((c) => c.proc);
  for (const c of live) c.proc?.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const c of children) c.proc?.kill('SIGKILL');
  }, 10_000);
  await Promise.all(live.map((c) => c.proc));
  clearTimeout(force);
  await decisions.write({ who: 'rig', what: 'STOPPED', reason: `all ${children.length} processes stopped` }).catch(() => {});
});

// Simulated Ollama servers first, so the agents find them on their first probe.
for (const c of children) {
  launch(c);
  if (c.name.startsWith('ollama-')) await new Promise((r) => setTimeout(r, 50));
}
await decisions.write({ who: 'rig', what: 'START', reason: `${children.map((c) => c.name).join(', ')} on ${paths.root}` });
daemon.log(`rig up: ${children.map((c) => c.name).join(', ')}; Ctrl-C stops everything`);

