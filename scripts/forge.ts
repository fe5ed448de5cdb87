// forge <command> [args]: the one command. Each subcommand is a script of its own
// (scripts/<name>.ts, or agents/rig/main.ts for the rig); forge sets process.argv to what that
// script expects ([node, forge, ...args]) and imports it, so only the subcommand used is loaded.
//
// For a bundler: every import below is a static string inside its own function, so esbuild
// (--splitting) makes one chunk per subcommand; package.json is imported as JSON and inlined.
import pkg from '../package.json' with { type: 'json' };
import { closestNames } from '../agents/plan/suggest.ts';

interface Subcommand {
  /** One line for `forge --help`. */
  about: string;
  load: () => Promise<unknown>;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  rig: { about: 'run the brain and one agent per GPU (--simulate N without GPUs), supervised', load: () => import('../agents/rig/main.ts') },
  submit: { about: 'validate a plan folder and submit it as a batch (prints the batch id); --dry-run predicts it, --resume BATCH reruns a failed one', load: () => import('./submit.ts') },
  ask: { about: 'a realtime question to the rig\'s LLM, answered by a hot agent ahead of batch work; prints the answer', load: () => import('./ask.ts') },
  status: { about: 'one look at the rig: batches, GPUs, the queue and why each waiting task waits', load: () => import('./status.ts') },
  watch: { about: 'the live terminal view', load: () => import('./watch.ts') },
  logs: { about: "a task's attempts and the tail of each attempt's stdout and stderr", load: () => import('./logs.ts') },
  history: { about: 'the batches the rig has run, newest first: state, duration, counts, report', load: () => import('./history.ts') },
  signal: { about: 'tell an agent to stop, or to abort or kill the worker of a task', load: () => import('./signal.ts') },
  cancel: { about: 'cancel a batch or a task: nothing of it starts again, its running workers stop', load: () => import('./cancel.ts') },
  retry: { about: 'give the failed tasks of a batch (or one task) fresh attempts, reopening the batch', load: () => import('./retry.ts') },
  pause: { about: 'pause the rig, an agent or a batch: running work finishes, nothing new starts', load: () => import('./pause.ts') },
  resume: { about: 'undo a pause', load: () => import('./resume.ts') },
  metrics: { about: 'the rig\'s Prometheus metrics from the mount; --listen PORT serves them on 127.0.0.1', load: () => import('./metrics.ts') },
  forward: { about: 'send the events in outbox/ (a batch failed, a task gave up...) to webhooks, commands or files', load: () => import('./forward.ts') },
  adapters: { about: 'the LoRA adapter versions per base model and which is current; promote or roll back', load: () => import('./adapters.ts') },
  doctor: { about: 'check the mount for inconsistencies and leftovers (--repair fixes them)', load: () => import('./doctor.ts') },
  config: { about: 'config check: load the config as the rig would and report every problem', load: () => import('./config.ts') },
  demo: { about: 'run an example plan on simulated GPUs in a temporary mount', load: () => import('./demo.ts') },
  bench: { about: 'measure the rig against the machine\'s limits (builds the bundles first)', load: () => import('./bench.ts') },
  build: { about: 'bundle the rig\'s processes into dist/ for faster starts', load: () => import('./build.ts') },
  'install-service': { about: 'write the systemd unit (forge-rig.service) for this host, or --print it', load: () => import('./install-service.ts') },
  chaos: { about: 'fault injection: seeded kills and garbage on a simulated rig, then every batch checked', load: () => import('./chaos.ts') },
};

function overview(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((n) => n.length));
  const lines = Object.entries(SUBCOMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.about}`);
  return [
    'usage: forge <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'options:',
    '  -h, --help     this list; `forge <command> --help` for a command\'s options',
    '  --version      print the version',
    '',
    'Every command that reads the mount takes --shared DIR (default: $RIG_SHARED, else ./shared).',
  ].join('\n');
}

/** The subcommand to run and its arguments; or what to print and the exit status. */
type Dispatch = { run: Subcommand; name: string; args: string[] } | { print: string; to: 'stdout' | 'stderr'; code: number };

export function dispatch(argv: readonly string[]): Dispatch {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { print: overview(), to: 'stdout', code: 0 };
  if (first === '--version' || first === '-v') return { print: `forge ${pkg.version}`, to: 'stdout', code: 0 };
  if (first === 'help') {
    if (rest[0] === undefined) return { print: overview(), to: 'stdout', code: 0 };
    return dispatch([rest[0], '--help']);
  }
  const run = Object.hasOwn(SUBCOMMANDS, first) ? SUBCOMMANDS[first] : undefined;
  if (run) return { run, name: first, args: rest };
  const [near] = closestNames(first, Object.keys(SUBCOMMANDS), 1);
  const what = first.startsWith('-') ? `unknown option ${first}` : `unknown command '${first}'`;
  return { print: `forge: ${what}${near ? `; did you mean ${near}?` : ''}\n\n${overview()}`, to: 'stderr', code: 2 };
}

const chosen = dispatch(process.argv.slice(2));
if ('print' in chosen) {
  process[chosen.to].write(chosen.print + '\n');
  process.exitCode = chosen.code;
} else {
  // The subcommand reads process.argv.slice(2), as when it is run on its own.
  process.argv = [process.argv[0]!, process.argv[1]!, ...chosen.args];
  await chosen.run.load();
}
