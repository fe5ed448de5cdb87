// forge signal TARGET stop|abort|kill [TASK_ID] [--shared DIR]: writes the signal
// file, the same thing a person does by hand with touch or echo.
import '../agents/core/shortLived.ts';
import { access, mkdir } from 'node:fs/promises';
import { parseCommand, usageError, runCommand } from '../agents/core/args.ts';
import { loadConfig } from '../agents/core/config.ts';
import { errorMessage, UserInputError } from '../agents/core/errors.ts';
import { isSafeName, mountPaths } from '../agents/core/paths.ts';
import { writeControl } from '../agents/core/controls.ts';
import { SIGNAL_KINDS, writeSignal, type SignalKind } from '../agents/core/signals.ts';
import { TaskStore } from '../agents/core/store.ts';
import { readTaskFile } from '../agents/core/taskFile.ts';

const USAGE = `usage: forge signal TARGET stop|abort|kill [TASK_ID] [--shared DIR]
  TARGET        an agent name from config.json, e.g. gpu-1
  stop          finish current work, then exit (no task id)
  abort         terminate the worker of TASK_ID (graceful)
  kill          SIGKILL the worker of TASK_ID (after abort failed)
  TASK_ID       the task whose worker abort or kill ends
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help    print this help and exit`;

/** Every refusal here is of what was typed (an argument, or an agent the config does not name): a usage error. */
function fail(message: string): never {
  usageError(USAGE, message);
}

async function main(): Promise<void> {
  const { positionals, shared } = parseCommand(USAGE, {});
  const [target, kindArg, taskId, ...extra] = positionals;
  if (!target || !kindArg) fail('missing TARGET and signal');
  if (!(SIGNAL_KINDS as readonly string[]).includes(kindArg)) fail(`unknown signal "${kindArg}": use one of ${SIGNAL_KINDS.join(', ')}`);
  const kind = kindArg as SignalKind;
  if (extra.length) fail(`unexpected argument "${extra[0]}"`);
  if (kind === 'stop' && taskId !== undefined) fail(`stop takes no task id (got "${taskId}")`);
  if (kind !== 'stop' && taskId === undefined) fail(`${kind} needs the id of the task to ${kind}`);
  if (!isSafeName(target)) fail(`agent name "${target}" is not a safe name (letters, digits, '.', '_', '-')`);
  if (taskId !== undefined && !isSafeName(taskId)) fail(`task id "${taskId}" is not a safe name (letters, digits, '.', '_', '-')`);

  const paths = mountPaths(shared);
  const configPresent = await access(paths.config).then(() => true, () => false);
  if (configPresent) {
    try {
      const names = (await loadConfig(paths.config)).gpus.map((g) => g.name);
      if (!names.includes(target)) fail(`unknown agent "${target}": the configured agents are ${names.join(', ')}`);
    } catch (err) {
      // A broken config must not keep a person from stopping an agent: say so and go on.
      const why = err instanceof UserInputError ? err.problems.join('\n') : errorMessage(err);
      process.stderr.write(`warning: cannot check the agent name against the config:\n${why}\n`);
    }
  }

  if (taskId !== undefined) {
    // Advice only: the agent decides what the signal means for the tasks it runs.
    const store = new TaskStore(paths);
    const folder = await store.locate(taskId).catch(() => null);
    if (folder === null) process.stderr.write(`warning: no task ${taskId} in any task folder\n`);
    else if (folder !== 'processing') process.stderr.write(`warning: task ${taskId} is in ${folder}/, not processing/\n`);
    else {
      // Only a look: a command a person runs moves nothing aside.
      const r = await readTaskFile(store.fileOf('processing', taskId), taskId).catch(() => null);
      if (r?.ok && r.task.claimed_by && r.task.claimed_by !== target) {
        process.stderr.write(`warning: task ${taskId} is claimed by ${r.task.claimed_by}, not ${target}\n`);
      }
    }
  }

  await mkdir(paths.signals, { recursive: true });
  if (taskId !== undefined) {
    // A person's abort or kill cancels the task: it ends cancelled and is not retried.
    await writeControl(paths, 'cancel', taskId);
    process.stderr.write(`task ${taskId} is cancelled (control/cancel/${taskId}): it will not be retried; forge retry ${taskId} gives it fresh attempts\n`);
  }
  const file = await writeSignal(paths, target, kind, taskId);
  process.stdout.write(`${file}\n`);
}

runCommand(main);
