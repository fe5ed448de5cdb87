// npm run rig -- [--simulate N] [--role all|brain|agents] [--gpus 0,1] [--base-port P] [--shared DIR]
// Starts each managed GPU's LLM server (simulated: the simulator's), the brain and one agent
// per configured GPU, restarts what dies (agents and brain at most 3 times in 10 minutes,
// LLM servers 10 times, with backoff: restartPolicy.ts), and stops everything, running
// workers included, on SIGINT/SIGTERM: agents first, then the servers (supervisor.ts).
// `--role brain` runs only the brain, `--role agents [--gpus 0,1]` only those agents and
// their servers (roles.ts).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseCommand } from '../core/args.ts';
import { type Config, loadConfig, writeConfig, defaultGpus } from '../core/config.ts';
import { DecisionLog } from '../core/decisionLog.ts';
import { UserInputError, errorMessage } from '../core/errors.ts';
import { levelEnvFromConfig } from '../core/logLevel.ts';
import { EXIT_REFUSED, startDaemon } from '../core/lifecycle.ts';
import { ensureMount, mountPaths } from '../core/paths.ts';
import { initSimState } from '../sim/simState.ts';
import { describeRefusal, portsToCheck } from './portCheck.ts';
import { findBusyPorts, findFreeBase } from './portProbe.ts';
import { type ChildSpec, planRole } from './roles.ts';
import { simulatedConfig } from './simulate.ts';
import { Supervisor } from './supervisor.ts';

/** How long the rig waits for the LLM servers to listen before it starts the agents anyway. */
const RUNTIME_LISTEN_WAIT_MS = 20_000;

const usage = `usage: forge rig [--simulate N] [--role all|brain|agents] [--gpus 0,1] [--base-port P] [--shared DIR]
  --simulate N   N simulated GPUs (ids 0..N-1), for a machine without one
  --role R       all (default): the brain, the agents and their LLM servers; brain: only the brain;
                 agents: only the agents and the LLM servers of their GPUs (those with "manage": true)
  --gpus IDS     with --role agents (or all): only these GPUs' agents, e.g. --gpus 0,1
  --base-port P  with --simulate: the simulated GPUs' LLM servers listen on P, P+1, ... (default 11435)
  --shared DIR   the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help     print this help and exit`;
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

async function prepareConfig(): Promise<{ config: Config; file: string; basePort: number }> {
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
    if (base) return { config: base, file: paths.config, basePort };
    const count = await countRealGpus();
    if (count === 0) fail(`no ${paths.config} and no GPU found by nvidia-smi; run with --simulate N to simulate N GPUs`);
    const config = await writeConfig(paths.config, { gpus: defaultGpus(count, basePort) });
    daemon.log(`wrote a default config for ${count} GPU(s) to ${paths.config}`);
    return { config, file: paths.config, basePort };
  }
  const simDir = paths.sim;
  await initSimState(simDir, simulate);
  const sim = simulatedConfig(base, simulate, simDir, basePort);
  // A real config on the mount is left as it is; the simulated one lives beside the simulator.
  const file = base ? join(simDir, 'config.json') : paths.config;
  await mkdir(simDir, { recursive: true });
  const config = await writeConfig(file, sim);
  daemon.log(`simulating ${simulate} GPU(s); config ${file}`);
  return { config, file, basePort };
}

async function countRealGpus(): Promise<number> {
  const r = await execa('nvidia-smi', ['-L'], { reject: false, timeout: 10_000 });
  if (r.exitCode !== 0) return 0;
  return String(r.stdout).split('\n').filter((l) => l.startsWith('GPU ')).length;
}

/**
 * Before anything starts: every port this rig's servers will bind must be free, or the rig
 * exits EXIT_REFUSED (another rig, or a server a killed rig left, holds its place; starting
 * again cannot help), naming each port, its GPU and the process holding it (portCheck.ts).
 */
async function refuseBusyPorts(children: ChildSpec[], basePort: number): Promise<void> {
  const busy = await findBusyPorts(portsToCheck(children));
  if (!busy.length) return;
  const simulated = values.simulate !== undefined;
  const count = config.gpus.length;
  const freeBase = simulated ? await findFreeBase(config.ollama_host, count, basePort + count) : null;
  process.stderr.write(describeRefusal(busy, { simulated, basePort, freeBase, count }));
  process.exit(EXIT_REFUSED);
}

const { config, file: configFile, basePort } = await prepareConfig();
// The config's log levels reach every child through the environment the launcher passes on.
Object.assign(process.env, levelEnvFromConfig(config.log_levels, process.env));
const roles = planRole({ role: values.role, gpus: values.gpus, simulated: values.simulate !== undefined, config, configFile, shared: paths.root, simDir: paths.sim });
if (typeof roles === 'string') fail(roles);
await refuseBusyPorts(roles.children, basePort);
const supervisor = new Supervisor({ children: roles.children, decisions, shared: paths.root, log: daemon.log });

daemon.onStop(async () => {
  await supervisor.stop();
  await decisions.write({ who: 'rig', what: 'STOPPED', reason: `all ${supervisor.names.length} processes stopped` }).catch(() => {});
});

// The GPUs' LLM servers first: the agents should find theirs answering on their first probe.
await supervisor.start(RUNTIME_LISTEN_WAIT_MS);
// A stop while the servers were starting: nothing more is started, and nothing said to be up.
if (!daemon.signal.aborted) {
  await decisions.write({ who: 'rig', what: 'START', reason: `${supervisor.names.join(', ')} on ${paths.root}` });
  daemon.log(`rig up: ${supervisor.names.join(', ')}; Ctrl-C stops everything`);
}
