// The worker: one short-lived process per task, started by the GPU agent as
//   node --import tsx agents/worker/main.ts --task-stdin --config PATH [--ollama-url URL] [--shared DIR]
// with the task's JSON written to its stdin (or --task-file PATH, or --task JSON for a small
// task by hand). The agent uses stdin: a task has no size limit there, while a command line
// is capped by the kernel (E2BIG past 128 KiB for one argument). It checks the executor policy, runs the task and
// prints EXACTLY ONE line on stdout, a WorkerResult, then exits 0, whatever happened to the
// task. Diagnostics go to stderr. It exits non-zero only when it cannot produce a result.
//
// Start-up cost is paid on every task, so imports stay few: no chokidar, no systeminformation,
// and the LLM code is loaded only for generate/parse tasks.
//
// Spare mode (--spare instead of --task-stdin): the agent starts the worker before it has a
// task, so Node's boot is off the path from one task to the next. It loads everything, then
// waits on stdin for one line, {"env": {...}, "task": {...}} (core/workerProtocol.ts): env is
// the per-task environment (FORGE_TASK_ID, FORGE_ATTEMPT, FORGE_AGENT_MODEL) set before the
// task starts, so its processes carry it. Its result's started_at is when that line arrived.
// Its stdin stays open while it works: end of stdin means the agent is gone, and the worker
// ends its task (or exits, if it had none yet) rather than outlive it.
//
// Checkpoints and resume: before a shell task runs, the worker makes its checkpoint folder
// ({BATCH_PATH}/checkpoints/<task name>/, kept across attempts) and passes it as
// FORGE_CHECKPOINT_DIR; before any shell, generate or parse task runs, it hashes the task's
// input key, which the result carries with the outputs left (resumeFields.ts).
//
// GPU choice: the task inherits CUDA_VISIBLE_DEVICES (and the other GPU_SELECTION_VARS)
// exactly as the agent gave them to the worker. config.worker_env cannot override them, and
// the policy blocks a command that sets, unsets or clears them (`env CUDA_VISIBLE_DEVICES=1`,
// `export ...`, `env -i`). A program that changes them in its own code is not detectable here.
//
// Containment: a shell task runs inside bubblewrap (sandbox.ts) when config.sandbox allows:
// it can write only its batch folder and its own /tmp, sees no process and no network of the
// host. The executor policy is checked first, as an early, friendly refusal only.
//
// Signals: SIGTERM, SIGINT or SIGHUP to the worker end the task's process group (TERM, 2 s,
// KILL) and the worker still prints its result (outcome 'killed'). The task runs in its own
// process group, so SIGKILL to the worker alone leaves an uncontained task running: send
// SIGTERM first. (A sandboxed task dies with its worker: bwrap --die-with-parent.)
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../core/config.ts';
import { errorMessage } from '../core/errors.ts';
import { readMountFile } from '../core/mountRead.ts';
import { childPath, isSafeName, mountPaths } from '../core/paths.ts';
import { Task, WorkerResult } from '../core/task.ts';
import { checkSchema } from '../core/zodIssues.ts';
import { formatTaskPidLine } from '../core/workerProtocol.ts';
import { TaskInputError, awaitTask } from './spareInput.ts';
import { checkPolicy, GPU_SELECTION_VARS } from './policy.ts';
import { runWithGate } from './gateCheck.ts';
import { makeResult, printResult, type ResultFields, type ResultTask } from './result.ts';
import { LogFileError } from './logFiles.ts';
import { DEFAULT_KILL_GRACE_MS, runShell, type ShellRun } from './runShell.ts';
import { prepareSandbox } from './sandbox.ts';
import { CHECKPOINT_ENV, giveCheckpointTo, prepareCheckpointDir } from '../core/checkpoint.ts';
import { keyBeforeRun, withResumeFields } from './resumeFields.ts';
import { logVerdict } from './verdictLog.ts';

const USAGE = 'usage: node --import tsx agents/worker/main.ts (--task-stdin | --task-file PATH | --task JSON | --spare) --config PATH [--ollama-url URL] [--shared DIR]';
/** The largest task a worker reads (stdin or file): far above any real task, a bound on a hostile one. */
const MAX_TASK_BYTES = 16 * 1024 * 1024;

/** Texts that mean the task ran out of GPU memory: an infra failure, retried with a raised estimate. */
export const OOM_SIGNATURE =
  /CUDA out of memory|CUDA error: out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation|HIP out of memory/;
/** Signals that mean someone outside ended the task (agent, person, kernel): infra, not the task's fault. */
const EXTERNAL_SIGNALS = new Set(['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP']);
const STDERR_TAIL_LINES = 20;
/** Bounds on the stderr tail a reason carries: it is copied into every attempt record of the task. */
const TAIL_LINE_CHARS = 300;
const TAIL_TOTAL_CHARS = 4000;

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} worker[${process.pid}]: ${line}\n`);

interface WorkerArgs {
  taskStdin: boolean;
  /** Boot first, then read one envelope line from stdin (see the top of this file). */
  spare: boolean;
  taskFile?: string;
  taskJson?: string;
  configPath?: string;
  ollamaUrl?: string;
  shared?: string;
}

export async function workerMain(argv: string[]): Promise<number> {
  let startedAt = Date.now();
  // Only printResult may write to stdout: anything else a library logs goes to stderr.
  console.log = console.info = console.debug = (...a: unknown[]) => console.error(...a);
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => {
      log(`received ${sig}: ending the task`);
      stop.abort(sig);
    });
  }

  let args: WorkerArgs;
  try {
    args = readArgs(argv);
  } catch (err) {
    log(`${errorMessage(err)}\n${USAGE}`);
    return 2;
  }

  let who: ResultTask = { taskId: 'unknown', attempt: 1, startedAt };
  let result: WorkerResult;
  try {
    let raw: unknown;
    if (args.spare) {
      const got = await awaitTask(stop, log, MAX_TASK_BYTES);
      // Its stdin closed before any task came: the agent dropped this spare or is gone.
      if (got === null) return 0;
      // The task's time starts when it arrived, not when this process booted.
      startedAt = got.arrivedAt;
      raw = got.task;
    } else raw = await readTaskInput(args);
    who = identify(raw, startedAt);
    result = await runTaskInput(raw, who, args, stop.signal);
  } catch (err) {
    log(`worker error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    result = makeResult(who, { outcome: 'error', reason: `the worker failed: ${errorMessage(err)}` });
  }
  const checked = checkSchema(WorkerResult, result);
  if (!checked.ok) {
    log(`the worker built an invalid result: ${JSON.stringify(result)}`);
    result = makeResult(who, { outcome: 'error', reason: `the worker built an invalid result: ${checked.problems.join('; ')}` });
  }
  // A closed stdout (the agent went away) reaches printResult's callback; without this
  // listener it would also crash the process as an unhandled 'error' event.
  process.stdout.on('error', () => {});
  try {
    await printResult(result);
  } catch (err) {
    log(`cannot print the result: ${errorMessage(err)}`);
    return 1;
  }
  return 0;
}

function readArgs(argv: string[]): WorkerArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      'task-stdin': { type: 'boolean' },
      spare: { type: 'boolean' },
      'task-file': { type: 'string' },
      task: { type: 'string' },
      config: { type: 'string' },
      'ollama-url': { type: 'string' },
      shared: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const given = [values['task-stdin'] === true, values['task-file'] !== undefined, values.task !== undefined, values.spare === true].filter(Boolean).length;
  if (given !== 1) throw new Error('give exactly one of --task-stdin, --task-file PATH, --task JSON and --spare');
  return {
    taskStdin: values['task-stdin'] === true,
    spare: values.spare === true,
    taskFile: values['task-file'],
    taskJson: values.task,
    configPath: values.config,
    ollamaUrl: values['ollama-url'],
    shared: values.shared,
  };
}


async function readTaskInput(args: WorkerArgs): Promise<unknown> {
  let text: string;
  if (args.taskJson !== undefined) text = args.taskJson;
  else if (args.taskStdin) text = await readStdin(MAX_TASK_BYTES);
  else {
    // A task file may sit on the mount: a FIFO or a symlink there must not hang or mislead us.
    const read = await readMountFile(args.taskFile!, { maxBytes: MAX_TASK_BYTES });
    if (!read.ok) throw new TaskInputError(`cannot read the task file: ${read.detail}`);
    text = read.text;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const from = args.taskStdin ? 'stdin' : (args.taskFile ?? '--task');
    throw new TaskInputError(`the task is not valid JSON (${from}, ${text.length} characters): ${errorMessage(err)}`);
  }
}

/** All of stdin, refused past max bytes. */
async function readStdin(max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new TaskInputError(`the task on stdin is over ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The task id and attempt to report, read leniently so even an invalid task gets a matching result. */
function identify(raw: unknown, startedAt: number): ResultTask {
  const obj = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const id = typeof obj.id === 'string' && isSafeName(obj.id) ? obj.id : 'unknown';
  const attempt = typeof obj.attempt === 'number' && Number.isInteger(obj.attempt) && obj.attempt >= 1 ? obj.attempt : 1;
  return { taskId: id, attempt, startedAt };
}

async function runTaskInput(raw: unknown, who: ResultTask, args: WorkerArgs, signal: AbortSignal): Promise<WorkerResult> {
  const parsed = checkSchema(Task, raw);
  if (!parsed.ok) return makeResult(who, { outcome: 'error', failure_kind: 'infra', reason: `invalid task: ${parsed.problems.join('; ')}` });
  const task = parsed.value;
  if (args.configPath === undefined) {
    return makeResult(who, { outcome: 'error', reason: 'the worker needs --config PATH (the rig\'s config.json)' });
  }
  let config: Config;
  try {
    config = await loadConfig(args.configPath);
  } catch (err) {
    return makeResult(who, { outcome: 'error', reason: `cannot load the config: ${errorMessage(err)}` });
  }
  if (signal.aborted) return makeResult(who, { outcome: 'killed', reason: `the worker received ${String(signal.reason)} before the task started` });

  const shared = args.shared ?? dirname(args.configPath);
  if (task.type !== 'shell' && task.type !== 'generate' && task.type !== 'parse') return runByType(task, config, shared, who, args, signal);
  // Keyed before it runs: the key is what this attempt ran with (resumeFields.ts).
  const key = await keyBeforeRun(task, config, log);
  return withResumeFields(await runByType(task, config, shared, who, args, signal), task, key);
}

async function runByType(task: Task, config: Config, shared: string, who: ResultTask, args: WorkerArgs, signal: AbortSignal): Promise<WorkerResult> {
  if (task.type === 'shell') return runWithGate(task, () => runShellTask(task, config, shared, who, signal));
  if (task.type === 'generate' || task.type === 'parse') {
    const ollamaUrl = pickOllamaUrl(args, config);
    if (ollamaUrl === null) {
      return makeResult(who, { outcome: 'error', reason: 'no LLM runtime address: pass --ollama-url URL (or set FORGE_OLLAMA_URL)' });
    }
    const { runLlmTask } = await import('./llmTask.ts');
    return runWithGate(task, () => runLlmTask(task, { ollamaUrl, trainingSamplesDir: mountPaths(shared).spoolSamples, startedAt: who.startedAt, signal }));
  }
  if (task.type === 'promote_adapter' || task.type === 'rollback_adapter') {
    const { runAdapterTask } = await import('./adapterTask.ts');
    return runAdapterTask(task, { shared, who });
  }
  return makeResult(who, {
    outcome: 'error',
    reason: `task type "${task.type}" is run by the ${task.executor === 'worker' ? 'GPU agent or the brain' : task.executor}, not by a worker (worker types: shell, generate, parse, promote_adapter, rollback_adapter)`,
  });
}

/** --ollama-url, else FORGE_OLLAMA_URL, else the agent whose GPU id is our CUDA_VISIBLE_DEVICES. */
function pickOllamaUrl(args: WorkerArgs, config: Config): string | null {
  if (args.ollamaUrl) return args.ollamaUrl;
  if (process.env.FORGE_OLLAMA_URL) return process.env.FORGE_OLLAMA_URL;
  const gpu = config.gpus.find((g) => String(g.id) === process.env.CUDA_VISIBLE_DEVICES);
  return gpu ? `http://${config.ollama_host}:${gpu.port}` : null;
}

async function runShellTask(task: Task, config: Config, shared: string, who: ResultTask, signal: AbortSignal): Promise<WorkerResult> {
  const argv = task.argv;
  if (!argv || argv.length === 0) return makeResult(who, { outcome: 'error', reason: 'a shell task needs an argv; this one has none' });

  const decision = checkPolicy(argv, { policy: config.executor, cwd: task.cwd, batchPath: task.batch_path, approved: task.approved });
  logVerdict(decision, task.id, who.attempt);
  if (decision.verdict === 'BLOCKED') return makeResult(who, { outcome: 'blocked', failure_kind: 'app', reason: decision.reason });
  if (decision.verdict === 'NEEDS_APPROVAL') return makeResult(who, { outcome: 'needs_approval', failure_kind: null, reason: decision.reason });

  let stdoutPath: string;
  let stderrPath: string;
  try {
    const logs = join(task.batch_path, 'logs');
    stdoutPath = childPath(logs, `${task.name}.attempt${who.attempt}.out`, 'log file');
    stderrPath = childPath(logs, `${task.name}.attempt${who.attempt}.err`, 'log file');
  } catch (err) {
    return makeResult(who, { outcome: 'error', reason: `cannot name the task's log files: ${errorMessage(err)}` });
  }
  if (!isDirectory(task.cwd)) {
    return makeResult(who, { outcome: 'error', reason: `the task's working directory ${task.cwd} does not exist (is the shared mount up?)` });
  }
  // The sandbox judges batch_path first: nothing is created under a batch folder it refuses.
  const sandbox = await prepareSandbox(task, config.sandbox, shared);
  if (sandbox.kind === 'refused') return makeResult(who, { outcome: sandbox.outcome, failure_kind: sandbox.failureKind, reason: sandbox.reason });
  if (sandbox.kind === 'uncontained') log(`${sandbox.why}: the task runs UNCONTAINED`);
  let checkpoint: string;
  try {
    checkpoint = await prepareCheckpointDir(task.batch_path, task.name);
  } catch (err) {
    return makeResult(who, { outcome: 'blocked', failure_kind: 'app', reason: `blocked: the task's checkpoint folder cannot be used: ${errorMessage(err)}; nothing ran` });
  }
  if (sandbox.runAs) {
    try {
      await giveCheckpointTo(checkpoint, sandbox.runAs);
    } catch (err) {
      return makeResult(who, { outcome: 'error', failure_kind: 'infra', reason: `cannot give the checkpoint folder ${checkpoint} to uid ${sandbox.runAs.uid} (sandbox.user): ${errorMessage(err)}` });
    }
  }

  const env: Record<string, string> = { ...config.worker_env };
  // The agent chose the GPU when it started us; the config cannot move the task to another one.
  for (const name of GPU_SELECTION_VARS) delete env[name];
  Object.assign(env, {
    FORGE_TASK_ID: task.id,
    FORGE_TASK_NAME: task.name,
    FORGE_BATCH_PATH: task.batch_path,
    FORGE_ATTEMPT: String(who.attempt),
    [CHECKPOINT_ENV]: checkpoint,
  });

  const where = sandbox.kind === 'sandboxed' ? `in the ${sandbox.launch.bwrapPath} sandbox` : 'uncontained';
  const as = sandbox.runAs ? ` as uid ${sandbox.runAs.uid}` : '';
  log(`running ${task.id} attempt ${who.attempt}: ${JSON.stringify(argv)} in ${task.cwd}, ${where}${as} (timeout ${task.timeout_s} s)`);
  let run: ShellRun;
  try {
    run = await runShell(task, {
      env,
      stdoutPath,
      stderrPath,
      timeoutMs: task.timeout_s * 1000,
      signal,
      onSpawn: (pid) => log(formatTaskPidLine(pid)),
      sandbox: sandbox.kind === 'sandboxed' ? sandbox.launch : undefined,
      runAs: sandbox.runAs,
    });
  } catch (err) {
    if (!(err instanceof LogFileError)) throw err;
    return makeResult(who, { outcome: 'blocked', failure_kind: 'app', reason: `blocked: the task's log file cannot be used: ${err.message}; nothing ran` });
  }
  log(`task ended: ${JSON.stringify({ ...run, stderrTail: undefined })}`);
  const fields = classify(run, task, argv[0]!, String(signal.reason ?? 'SIGTERM'));
  return makeResult(who, { ...fields, exit_code: run.exitCode, signal: run.signal, stdout_path: stdoutPath, stderr_path: stderrPath });
}

/** What happened to the task, from the run and its stderr. Order matters: our own kills first. */
function classify(run: ShellRun, task: Task, command: string, stopSignal: string): ResultFields {
  if (run.spawnError) {
    if (run.spawnError.code === 'ENOENT') return { outcome: 'failed', failure_kind: 'app', reason: `command not found: ${command}` };
    if (run.spawnError.code === 'EACCES') return { outcome: 'failed', failure_kind: 'app', reason: `permission denied: ${command} is not executable` };
    if (run.spawnError.code === 'E2BIG') return { outcome: 'failed', failure_kind: 'app', reason: `could not start ${command}: its arguments are over the kernel's limit (E2BIG: 128 KiB for one argument, about 2 MiB for all); pass large data in a file` };
    if (run.spawnError.code === 'SANDBOX') return { outcome: 'error', failure_kind: 'infra', reason: `the sandbox could not start ${command}: ${run.spawnError.message.slice(0, 500)}` };
    return { outcome: 'error', failure_kind: 'infra', reason: `could not start ${command}: ${run.spawnError.message.slice(0, 500)}` };
  }
  if (run.aborted) {
    return { outcome: 'killed', failure_kind: 'infra', reason: `the worker was told to stop (${stopSignal}); the task's process group was ended` };
  }
  const graceS = DEFAULT_KILL_GRACE_MS / 1000;
  if (run.timedOut) {
    return {
      outcome: 'timeout',
      failure_kind: 'app',
      reason: `timed out after ${task.timeout_s} s (timeout_s); its process group got SIGTERM, then SIGKILL ${graceS} s later if still running`,
    };
  }
  if (run.exitCode === 0) return { outcome: 'success', failure_kind: null, reason: null };

  const tail = boundTail(run.stderrTail.split('\n').filter((l) => l.trim() !== '').slice(-STDERR_TAIL_LINES));
  const tailText = tail.length ? `; last lines of stderr:\n${tail.join('\n')}` : ' (stderr was empty)';
  const how = run.signal ? `killed by ${run.signal}` : `exit code ${run.exitCode}`;
  const oom = tail.find((l) => OOM_SIGNATURE.test(l));
  if (oom !== undefined) return { outcome: 'oom', failure_kind: 'infra', reason: `out of GPU memory (${how}): ${oom.trim()}` };
  if (run.signal && EXTERNAL_SIGNALS.has(run.signal)) {
    return { outcome: 'killed', failure_kind: 'infra', reason: `killed by ${run.signal} from outside the worker (the agent, a person or the kernel)${tailText}` };
  }
  return { outcome: 'failed', failure_kind: 'app', reason: `${how}${tailText}` };
}

/** Each line cut to TAIL_LINE_CHARS, and the oldest lines dropped until the whole fits TAIL_TOTAL_CHARS. */
export function boundTail(lines: string[]): string[] {
  const cut = lines.map((l) => (l.length > TAIL_LINE_CHARS ? `${l.slice(0, TAIL_LINE_CHARS)}… (${l.length - TAIL_LINE_CHARS} more characters)` : l));
  let total = cut.reduce((n, l) => n + l.length + 1, 0);
  while (cut.length > 1 && total > TAIL_TOTAL_CHARS) total -= cut.shift()!.length + 1;
  return cut;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  workerMain(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`cannot produce a result: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
