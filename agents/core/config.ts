// <shared>/config.json: validated at start; a bad file is refused with the field and the reason.
import { sameModelRef } from './adapterRef.ts';
import { adapterConfigProblems } from './adapterConfig.ts';
import * as z from './zod.ts';
import { writeJsonAtomic } from './atomic.ts';
import { LOG_COMPONENTS, LOG_LEVELS, type LogComponent, type LogLevel } from './logLevel.ts';
import { UserInputError } from './errors.ts';
import { readJsonFile } from './mountJson.ts';
import { checkSchema, foundWords } from './zodIssues.ts';

/**
 * A number within [lo, hi], the range and the value found in the message. Every number in the
 * config is bounded: a cycle of 3e6 s overflows Node's timer into a 1 ms busy loop, a negative
 * or zero count makes no sense, and the message tells the allowed range.
 */
function between(lo: number, hi: number, unit: string, opts: { int?: boolean } = {}) {
  const msg = (iss: { input?: unknown }) => `must be ${opts.int ? 'a whole number ' : ''}between ${lo} and ${hi}${unit ? ` ${unit}` : ''}; found ${JSON.stringify(iss.input)}`;
  const num = z.number({ error: msg });
  const range = [z.gte(lo, { error: msg }), z.lte(hi, { error: msg })];
  return opts.int ? num.check(z.int({ error: msg }), ...range) : num.check(...range);
}

/** 30 days: the longest time any timeout or cycle may name (Node's timers stop at 24.8 days; longer ones are clamped). */
const MONTH_S = 30 * 24 * 3600;

/** A managed runtime's command line: literal arguments, never a shell line. */
export const ServeConfig = z.strictObject({
  /** The server's argv, e.g. ["llama-server", "-m", "/models/qwen2.5-7b.gguf", "--port", "{port}"]. */
  argv: z.array(z.string().check(z.minLength(1))).check(z.minLength(1, 'give the server command and its arguments')),
  /** Extra environment, e.g. {"OLLAMA_MODELS": "/mnt/models"}. CUDA_VISIBLE_DEVICES is always set to the GPU's id. */
  env: z._default(z.record(z.string(), z.string()), {}),
});
export type ServeConfig = z.infer<typeof ServeConfig>;

export const GpuConfig = z.strictObject({
  /** Physical GPU index: the agent sets CUDA_VISIBLE_DEVICES to it. */
  id: z.number().check(z.int(), z.gte(0)),
  /** Agent name for logs and signal files, e.g. gpu-1. */
  name: z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'letters, digits, _ and - only')),
  /** Model the agent loads when it goes hot, e.g. qwen2.5:7b. */
  model: z.string().check(z.minLength(1)),
  /** The agent's own runtime port (Ollama's, or the OpenAI-compatible server's). */
  port: z.number().check(z.int(), z.gte(1), z.lte(65535)),
  /**
   * The LLM server's protocol: ollama (loads and unloads models on request) or openai (any
   * OpenAI-compatible server, e.g. llama.cpp's llama-server or vLLM, serving the one model it
   * was started with).
   */
  runtime: z._default(z.enum(['ollama', 'openai']), 'ollama'),
  /** Requests the runtime serves at once on this card (Ollama's OLLAMA_NUM_PARALLEL, llama-server's --parallel). */
  num_parallel: z._default(between(1, 64, 'requests', { int: true }), 1),
  /** The rig starts and supervises this GPU's runtime itself (pinned to the card, restarted with backoff when it dies). */
  manage: z._default(z.boolean(), false),
  /** How a managed runtime is started: argv (no shell) and extra environment; {port} {gpu} {host} {model} {num_parallel} are filled in. */
  serve: z._default(z.nullable(ServeConfig), null),
});
export type GpuConfig = z.infer<typeof GpuConfig>;

/** Placeholders a serve argv or env value may hold, filled in by the rig per GPU. */
export const SERVE_PLACEHOLDERS = ['port', 'gpu', 'host', 'model', 'num_parallel'] as const;

/** Executor policy. Lives only here: a plan can never loosen it. */
export const ExecutorPolicy = z.strictObject({
  /** Commands refused outright (basename of argv[0], or of a command inside sh -c). */
  blocked_commands: z._default(z.array(z.string()), ['sudo', 'su', 'doas', 'pkexec', 'shutdown', 'reboot', 'mkfs', 'dd']),
  /** Network tools: the rig is air-gapped and tasks must not reach out. */
  network_commands: z._default(z.array(z.string()), ['curl', 'wget', 'nc', 'ncat', 'netcat', 'ssh', 'scp', 'sftp', 'rsync', 'ftp', 'telnet', 'socat']),
  /** Commands a person must approve first (a file in <shared>/approvals/). */
  approval_commands: z._default(z.array(z.string()), ['pip', 'pip3', 'npm', 'apt', 'apt-get', 'docker', 'systemctl']),
  /** Folders no task may write into. */
  system_paths: z._default(z.array(z.string()), ['/etc', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/boot', '/sys', '/proc', '/dev', '/var', '/opt', '/root']),
});
export type ExecutorPolicy = z.infer<typeof ExecutorPolicy>;

/**
 * The shell task sandbox (bubblewrap). The executor policy above is only a first warning;
 * this is the boundary: a read-only file system but for the batch folder, no network, a
 * private pid namespace.
 */
export const SandboxConfig = z.strictObject({
  /** auto: bwrap when it works here, else uncontained (said in the logs); require: else the task fails (infra); off: never. */
  mode: z._default(z.enum(['auto', 'require', 'off']), 'auto'),
  /** The bwrap executable (Debian package bubblewrap). */
  bwrap_path: z._default(z.string().check(z.minLength(1)), '/usr/bin/bwrap'),
  /** Run shell tasks as this user, contained or not (a name or a uid; the worker must be root). null: the worker's own user. */
  user: z._default(z.nullable(z.union([z.string().check(z.minLength(1)), z.number().check(z.int(), z.gte(0))])), null),
});
export type SandboxConfig = z.infer<typeof SandboxConfig>;

export const Config = z.strictObject({
  gpus: z
    .array(GpuConfig, {
      error: (iss) => `${iss.input === undefined ? 'missing; expected a list' : `expected a list, found ${foundWords(iss.input)}`} with one entry per GPU, e.g. [{"id": 0, "name": "gpu-0", "model": "qwen2.5:7b", "port": 11435}] (npm run rig writes a default config when there is none)`,
    })
    .check(z.minLength(1, 'configure at least one GPU')),
  resource_limits: z.prefault(
    z.strictObject({
      /** Celsius; at or above it the agent takes only meta and cpu tasks. */
      max_temp_c: z._default(between(1, 150, '°C'), 85),
      /** Percent of total VRAM in use; at or above it the agent is constrained. */
      max_vram_percent: z._default(between(1, 100, '%'), 95),
      /** Watts of power draw; at or above it the agent is constrained. */
      max_power_w: z._default(between(1, 5000, 'W'), 140),
      /** Percent of total VRAM the agent may reserve for tasks (its budget). */
      vram_budget_percent: z._default(between(1, 100, '%'), 80),
      /** Virtual VRAM cost of a cpu task in MB: limits how many run at once. */
      cpu_task_cost_mb: z._default(between(0, 10_000_000, 'MB', { int: true }), 1024),
      /** Default estimate in MB of a script task that states none. */
      default_script_vram_mb: z._default(between(0, 10_000_000, 'MB', { int: true }), 1024),
      /**
       * Workers one agent runs at once, whatever the budget says: a script task estimated at
       * 0 MB costs nothing against it, and a large card's budget holds dozens of cpu tasks.
       */
      max_workers: z._default(between(1, 1024, 'workers', { int: true }), 16),
    }),
    {},
  ),
  cycles: z.prefault(
    z.strictObject({
      /** Seconds between internal cycles: signals, finished workers, telemetry. */
      internal_s: z._default(between(0.05, 3600, 's'), 5),
      /** Seconds between external cycles: heartbeat, claiming (events make both faster). */
      external_s: z._default(between(0.1, 3600, 's'), 30),
      /** Seconds between looks at the other processes' doorbells (core/doorbell.ts): how soon a move made on another host is seen. */
      doorbell_s: z._default(between(0.02, 60, 's'), 0.25),
    }),
    {},
  ),
  timeouts: z.prefault(
    z.strictObject({
      /** Seconds without a heartbeat sequence advance before an agent counts as dead. */
      heartbeat_stale_s: z._default(between(1, 86_400, 's'), 120),
      /** Seconds in processing/ before a task counts as stuck (abort, then kill). */
      stuck_task_s: z._default(between(1, MONTH_S, 's'), 1200),
      /** Seconds between the abort signal and the kill signal. */
      abort_grace_s: z._default(between(1, 86_400, 's'), 120),
      /** Default per-task timeout in seconds when the plan gives none. */
      task_default_s: z._default(between(1, MONTH_S, 's'), 3600),
      /** Seconds a load_llm meta task may take (cold loads on old cards take minutes). */
      model_load_s: z._default(between(1, 86_400, 's'), 300),
      /** Seconds a task file another process may be writing must stay unchanged and unreadable before a reader quarantines it. */
      unreadable_grace_s: z._default(between(0, 3600, 's'), 30),
    }),
    {},
  ),
  retries: z.prefault(
    z.strictObject({
      /** Attempts a task gets for failures of its own (app). */
      max_attempts: z._default(between(1, 100, 'attempts', { int: true }), 3),
      /** Extra attempts for failures of the rig (infra: agent lost, killed, OOM). */
      max_infra_attempts: z._default(between(0, 100, 'attempts', { int: true }), 5),
      /** The wait before a failed task's first retry, s; each later retry waits twice the one before (plus up to a quarter more, jitter), up to backoff_cap_s. A plan task's retry_delay_s overrides it. */
      backoff_base_s: z._default(between(0, 86_400, 's'), 3),
      /** The longest wait between retries, s. */
      backoff_cap_s: z._default(between(0, 86_400, 's'), 300),
    }),
    {},
  ),
  release: z.prefault(
    z.strictObject({
      /**
       * The most tasks of one batch in queue/ at once (released, not yet claimed); the next are
       * released as those are claimed. Each agent's claim pass looks at every queued file, so a
       * batch of thousands released at once costs every pass that much.
       */
      max_queued: z._default(between(1, 100_000, 'tasks', { int: true }), 64),
    }),
    {},
  ),
  foreach: z.prefault(
    z.strictObject({
      /** A foreach makes at most this many children that are not finished at once; the next as earlier ones finish. */
      window: z._default(between(1, 100_000, 'tasks', { int: true }), 256),
    }),
    {},
  ),
  outbox: z.prefault(
    z.strictObject({
      /** Seconds an agent stays constrained (temperature, VRAM, power) before a gpu_constrained event goes to outbox/. */
      constrained_after_s: z._default(between(0, MONTH_S, 's'), 600),
    }),
    {},
  ),
  workers: z.prefault(
    z.strictObject({
      /**
       * Keep one worker per agent booted and waiting for its next task (agents/gpu/spareWorker.ts):
       * Node's start-up leaves the path from one task to the next. false: each worker is started with its task.
       */
      preboot: z._default(z.boolean(), true),
      /**
       * CPU niceness of workers and their tasks (0 to 19): on a rig whose cores are busy with
       * tasks, the agents, the brain and a person's `forge status` still get the CPU first. Set on
       * each worker's and task's session group too, where the kernel groups by session (sessionNice.ts).
       */
      nice: z._default(between(0, 19, '', { int: true }), 10),
    }),
    {},
  ),
  /**
   * The brain's housekeeping of what grows on the mount without end (brain/housekeeping.ts):
   * the two merged logs rotated by size, and the archive, tasks/late_results/, quarantine/ and
   * outbox/sent/ pruned by age. Ages are judged on the brain's clock, by the time written in a
   * file or record where there is one, else by how long the brain has seen the file unchanged.
   */
  housekeeping: z.prefault(
    z.strictObject({
      /** false: nothing rotated or pruned (the temporary-file cleanup still runs). */
      enabled: z._default(z.boolean(), true),
      /** Seconds between two housekeeping runs of the brain. */
      interval_s: z._default(between(60, MONTH_S, 's'), 3600),
      /** Seconds after the brain starts before its first run: a restart loop does not prune in a burst. */
      first_after_s: z._default(between(0, 86_400, 's'), 300),
      /** MB (MiB) logs/brain_decisions.log may reach; bigger, it is renamed to brain_decisions.log.1 at the next run. */
      decision_log_max_mb: z._default(between(1, 1_000_000, 'MB'), 100),
      /** Rotated decision logs kept (brain_decisions.log.1 newest ... .N oldest); an older one is removed. */
      decision_log_keep: z._default(between(1, 1000, 'files', { int: true }), 5),
      /** MB (MiB) logs/training_samples.jsonl may reach; bigger, it is renamed to training_samples.jsonl.1 at the next run. */
      training_samples_max_mb: z._default(between(1, 1_000_000, 'MB'), 1024),
      /** Rotated training sample files kept (training_samples.jsonl.1 ... .N). */
      training_samples_keep: z._default(between(1, 1000, 'files', { int: true }), 5),
      /** Days after a batch finished (its record's finished_at) that tasks/archive/<batch>/ is removed; the batch can then no longer be retried. */
      archive_keep_days: z._default(between(1, 36_500, 'days'), 90),
      /** Days a file in tasks/late_results/ is kept (seen unchanged by the brain this long). */
      late_results_keep_days: z._default(between(1, 36_500, 'days'), 30),
      /** Days a quarantined file is kept (by the time in its .why.txt note, else seen unchanged this long). */
      quarantine_keep_days: z._default(between(1, 36_500, 'days'), 30),
      /** Days a delivered event is kept in outbox/sent/ (by the event's time); events waiting in outbox/ are never removed. */
      outbox_sent_keep_days: z._default(between(1, 36_500, 'days'), 30),
      /** Hours an answered realtime question (requests/<id>.json and its .answer.json) is kept after its answer, by the answer's answered_at. */
      requests_keep_hours: z._default(between(0.01, 876_000, 'hours'), 24),
    }),
    {},
  ),
  /** The nvidia-smi executable the agents run (a path, or a name looked up on PATH). */
  nvidia_smi: z._default(z.string(), 'nvidia-smi'),
  /** Host of the agents' Ollama servers. */
  ollama_host: z._default(z.string(), '127.0.0.1'),
  executor: z.prefault(ExecutorPolicy, {}),
  sandbox: z.prefault(SandboxConfig, {}),
  /** The brain's own model, asked only where rules cannot decide (output quality). null: rules only. */
  brain_llm: z._default(
    z.nullable(
      z.strictObject({
        model: z.string().check(z.minLength(1)),
        port: z.number().check(z.int(), z.gte(1), z.lte(65535)),
        /** Scores below this (1-5) send a generate task back for another attempt. */
        min_score: z._default(z.number().check(z.int(), z.gte(1), z.lte(5)), 3),
      }),
    ),
    null,
  ),
  /**
   * Whether a cold agent claims llm tasks itself (its runtime then loads the model on the first
   * request, outside the serialised load gate). Default false: the brain heats an agent with a
   * load_llm task and the llm work goes to it.
   */
  cold_agents_take_llm: z._default(z.boolean(), false),
  /** Seconds an agent stays hot or cold at least after the brain changed it (no flapping). */
  heat_dwell_s: z._default(between(0, 86_400, 's'), 60),
  /** Seconds a hot agent may hold a model no task needs before the brain cools it. */
  heat_idle_s: z._default(between(0, 86_400, 's'), 300),
  /** The model of an llm task that names none and whose plan names none; null: the first GPU's model. */
  default_model: z._default(z.nullable(z.string().check(z.minLength(1))), null),
  /** What each model needs resident, MB, where known before any load (the agents measure it after one). */
  models: z._default(z.record(z.string().check(z.minLength(1)), z.strictObject({ vram_mb: between(1, 10_000_000, 'MB', { int: true }) })), {}),
  /** The agents' circuit breaker on their runtime: failures in a row that open it, and the first cool-down before a probe. */
  llm_circuit: z.prefault(
    z.strictObject({
      failures: z._default(between(1, 100, 'failures', { int: true }), 3),
      cool_down_s: z._default(between(0.1, 86_400, 's'), 60),
      max_cool_down_s: z._default(between(0.1, 86_400, 's'), 600),
    }),
    {},
  ),
  /** The simulated cards' LLM server (npm run rig -- --simulate N only). */
  simulator: z.prefault(
    z.strictObject({
      /** Output tokens per second of one request alone on a card. */
      tok_s: z._default(between(0.1, 1_000_000, 'tok/s'), 200),
      /** How long a model load takes, ms. */
      load_ms: z._default(between(0, 600_000, 'ms', { int: true }), 300),
      /** Resident size of a model with one request slot, MB. */
      model_mb: z._default(between(1, 10_000_000, 'MB', { int: true }), 4700),
      /** Plain answers are lengthened to about this many tokens, as a real model's (0: short answers). */
      answer_tokens: z._default(between(0, 100_000, 'tokens', { int: true }), 0),
      /** KV cache of each further request slot (num_parallel), MB. */
      kv_mb: z._default(between(0, 10_000_000, 'MB', { int: true }), 256),
    }),
    {},
  ),
  /**
   * How much each component says on its stderr (core/logLevel.ts): brain, agent, launcher,
   * worker, executor (the policy verdicts). FORGE_LOG_LEVEL_<COMPONENT> in the environment wins.
   */
  log_levels: z._default(z.strictObject(Object.fromEntries(LOG_COMPONENTS.map((c) => [c, z.optional(z.enum(LOG_LEVELS))])) as Record<LogComponent, z.ZodMiniOptional<z.ZodMiniEnum<{ [K in LogLevel]: K }>>>), {}),
  /** Extra environment for workers (e.g. a simulator's state folder). Never from a plan. */
  worker_env: z._default(z.record(z.string(), z.string()), {}),
});
export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;

export function defaultGpus(count: number, basePort = 11435): GpuConfig[] {
  return Array.from({ length: count }, (_, id) => ({ id, name: `gpu-${id}`, model: 'qwen2.5:7b', port: basePort + id, runtime: 'ollama', num_parallel: 1, manage: false, serve: null }));
}

/** The defaults for one GPU: what readers judge a mount by before the rig has written its config. */
export const DEFAULT_CONFIG: Config = Config.parse({ gpus: defaultGpus(1) });

/** The model an llm task asks for: its own, else the config's default, else the first GPU's. */
export function taskModel(task: { model: string | null }, config: Pick<Config, 'default_model' | 'gpus'>): string {
  return task.model ?? config.default_model ?? config.gpus[0]!.model;
}

/** Model names compared as Ollama does (`m` is `m:latest`); names of other runtimes are compared as given. */
export function sameModelName(a: string, b: string): boolean {
  // A name may carry an adapter version (base#adapter:version): the bases compare as Ollama's names, the versions exactly.
  return sameModelRef(a, b);
}

/** The rules across fields that the schema cannot state: unique GPU ids and names, a stale limit over two heartbeats. */
function configRuleProblems(config: Config, where: string): string[] {
  const ids = new Set<number>();
  const names = new Set<string>();
  const problems: string[] = [];
  for (const [i, g] of config.gpus.entries()) {
    if (ids.has(g.id)) problems.push(`${where}: gpus.${i}.id: GPU id ${g.id} appears twice`);
    if (names.has(g.name)) problems.push(`${where}: gpus.${i}.name: agent name "${g.name}" appears twice`);
    ids.add(g.id);
    names.add(g.name);
    if (g.serve && !g.manage) problems.push(`${where}: gpus.${i}.serve: used only when the rig manages the runtime; add "manage": true or remove serve`);
    if (g.manage && g.runtime === 'openai' && !g.serve) {
      problems.push(`${where}: gpus.${i}.serve: an openai runtime the rig manages needs its command, e.g. {"argv": ["llama-server", "-m", "/models/model.gguf", "--port", "{port}", "--parallel", "{num_parallel}"]}`);
    }
    for (const [k, text] of [...(g.serve?.argv ?? []).map((a, j) => [`argv.${j}`, a] as const), ...Object.entries(g.serve?.env ?? {}).map(([k, v]) => [`env.${k}`, v] as const)]) {
      for (const m of text.matchAll(/\{([^{}]*)\}/g)) {
        if (!(SERVE_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
          problems.push(`${where}: gpus.${i}.serve.${k}: unknown placeholder {${m[1]}}; known: ${SERVE_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`);
        }
      }
    }
  }
  problems.push(...adapterConfigProblems(config, where));
  const { cool_down_s: cd, max_cool_down_s: maxCd } = config.llm_circuit;
  if (maxCd < cd) problems.push(`${where}: llm_circuit.max_cool_down_s: must be at least cool_down_s (${cd} s); found ${maxCd}`);
  // An agent writes its heartbeat once per external cycle: a stale limit under two cycles
  // would have the brain presume live agents dead, and return their tasks, over and over.
  const { heartbeat_stale_s: stale } = config.timeouts;
  const { external_s: ext } = config.cycles;
  if (stale < 2 * ext) {
    problems.push(`${where}: timeouts.heartbeat_stale_s: must be at least 2 × cycles.external_s (${2 * ext} s), or live agents are presumed dead between two heartbeats; found ${stale}`);
  }
  return problems;
}

/**
 * A config object checked: the config, or a UserInputError with every problem. Unknown keys
 * are refused with the closest allowed key (zodIssues.ts): a misspelled key would otherwise be
 * dropped, and its default used without a word.
 */
export function parseConfig(raw: unknown, where: string): Config {
  const checked = checkSchema(Config, raw, where);
  if (!checked.ok) throw new UserInputError(checked.problems);
  const problems = configRuleProblems(checked.value, where);
  if (problems.length) throw new UserInputError(problems);
  return checked.value;
}

export async function loadConfig(path: string): Promise<Config> {
  // Bounded and non-blocking: a FIFO, a device or a huge file in its place is refused, never
  // waited on. A symlink is followed (a person may link a config in), to a regular file only.
  const read = await readJsonFile(path, Config, "the rig's JSON config file", { followSymlinks: true });
  if (read.ok) {
    const problems = configRuleProblems(read.value, path);
    if (problems.length) throw new UserInputError(problems);
    return read.value;
  }
  if (read.missing) throw new UserInputError([`${path}: no config file; start the rig once (npm run rig) to write a default one`]);
  if (read.why === 'invalid') throw new UserInputError((read.problems ?? [read.problem]).map((p) => `${path}: ${p}`));
  if (read.why === 'not_json') throw new UserInputError([`${path}: ${read.problem}`]);
  throw new UserInputError([`${read.detail ?? `${path}: ${read.problem}`}; expected the rig's JSON config file`]);
}

export async function writeConfig(path: string, config: ConfigInput): Promise<Config> {
  const parsed = parseConfig(config, path);
  await writeJsonAtomic(path, parsed);
  return parsed;
}

/** For daemons at start: the config, or every problem on stderr and exit 1. */
export async function loadConfigOrExit(path: string): Promise<Config> {
  try {
    return await loadConfig(path);
  } catch (err) {
    process.stderr.write(err instanceof UserInputError ? err.message + '\n' : String(err) + '\n');
    process.exit(1);
  }
}
