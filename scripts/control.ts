// forge cancel|retry|pause|resume TARGET [--json] [--shared DIR]: writes (or, for resume,
// removes) the control file the brain and the agents act on (agents/core/controls.ts), after
// checking that TARGET names something it can apply to. The file is the request: it works the
// same written by hand with touch, and it survives any restart of the brain or the agents.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommand, runCommand, usageError } from '../agents/core/args.ts';
import { batchOfTaskId, readBatchRecordFile } from '../agents/core/batch.ts';
import { loadConfig } from '../agents/core/config.ts';
import { type ControlKind, RIG, controlPath, removeControl, writeControl } from '../agents/core/controls.ts';
import { errorMessage } from '../agents/core/errors.ts';
import { archiveDir } from '../agents/core/placeTask.ts';
import { type MountPaths, isSafeName, mountPaths } from '../agents/core/paths.ts';
import { TaskStore } from '../agents/core/store.ts';

export type ControlVerb = 'cancel' | 'retry' | 'pause' | 'resume';

const ABOUT: Record<ControlVerb, { targets: string; does: string }> = {
  cancel: {
    targets: 'TARGET  a batch id, or a task id (<batch>__<task>)',
    does: 'Queued and waiting tasks never start; running ones are stopped by their agents (SIGTERM,\nthen SIGKILL after timeouts.abort_grace_s); the batch ends cancelled. Never retried.',
  },
  retry: {
    targets: 'TARGET  a batch id (every task that failed, was cancelled or not run), or one task id',
    does: 'The tasks get fresh attempts; a finished batch is reopened and its dependants run.',
  },
  pause: {
    targets: `TARGET  ${RIG} (every agent), an agent name from config.json, or a batch id`,
    does: 'Nothing new is claimed (or, for a batch, released); running work finishes. forge resume undoes it.',
  },
  resume: {
    targets: `TARGET  what forge pause named: ${RIG}, an agent name, or a batch id`,
    does: 'Removes the pause.',
  },
};

function usage(verb: ControlVerb): string {
  return `usage: forge ${verb} TARGET [--json] [--shared DIR]
  ${ABOUT[verb].targets}
  --json        print one JSON object: { action, target, kind, file }
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help    print this help and exit

${ABOUT[verb].does}`;
}

type TargetKind = 'batch' | 'task' | 'agent' | 'rig';

/** What the target is on this mount, or why it cannot be the target of `verb` (exit 1). */
async function identify(verb: ControlVerb, paths: MountPaths, target: string): Promise<{ kind: TargetKind } | { problem: string }> {
  const pausing = verb === 'pause' || verb === 'resume';
  let agents: string[] = [];
  if (pausing) {
    if (target === RIG) return { kind: 'rig' };
    agents = await loadConfig(paths.config).then((c) => c.gpus.map((g) => g.name), () => []);
    if (agents.includes(target)) return { kind: 'agent' };
  }
  const batch = batchOfTaskId(target);
  const rec = await readBatchRecordFile(paths, batch);
  if (!rec.ok) {
    const also = pausing ? `, an agent (${agents.join(', ') || 'none configured'}) or ${RIG}` : '';
    return { problem: `no batch ${batch} on this mount (brain/batches/${batch}.json)${also}; forge status lists the batches` };
  }
  const finished = rec.value.state === 'complete' || rec.value.state === 'failed' || rec.value.state === 'cancelled';
  if (target !== batch) {
    if (pausing) return { problem: `${verb} applies to the rig, an agent or a batch, not one task; pause its batch ${batch}` };
    const store = new TaskStore(paths);
    const where = (await store.locate(target).catch(() => null)) ?? (existsSync(join(archiveDir(paths, batch), `${target}.json`)) ? 'archive' : null);
    if (where === null) return { problem: `no task ${target} in batch ${batch}` };
    if (verb === 'cancel' && (where === 'complete' || where === 'archive')) return { problem: `task ${target} has already ended (${where === 'archive' ? `its batch is ${rec.value.state}` : 'complete'}): nothing to cancel` };
    return { kind: 'task' };
  }
  if (verb === 'cancel' && finished) return { problem: `batch ${batch} has already ended ${rec.value.state}: nothing to cancel` };
  if (verb === 'retry' && rec.value.state === 'complete') return { problem: `batch ${batch} completed: nothing to retry` };
  if (verb === 'pause' && finished) return { problem: `batch ${batch} has already ended ${rec.value.state}: nothing to pause` };
  return { kind: 'batch' };
}

/** What the brain or the agents will do, for the person who typed it. */
function outcome(verb: ControlVerb, kind: TargetKind, target: string): string {
  switch (verb) {
    case 'cancel':
      return `${kind} ${target} will be cancelled: the brain ends what waits, the agents stop what runs`;
    case 'retry':
      return `${kind} ${target}: the brain gives its failed tasks fresh attempts on its next pass`;
    case 'pause':
      return kind === 'rig' ? 'the rig is paused: running work finishes, nothing new is claimed' : `${kind} ${target} is paused: running work finishes, nothing new is ${kind === 'batch' ? 'released or claimed' : 'claimed by it'}`;
    case 'resume':
      return `${kind === 'rig' ? 'the rig' : `${kind} ${target}`} resumed`;
  }
}

export function runControl(verb: ControlVerb): void {
  runCommand(async () => {
    const USAGE = usage(verb);
    const { values, positionals, shared } = parseCommand(USAGE, { json: { type: 'boolean' } }, undefined, { positionals: { min: 1, max: 1 } });
    const target = positionals[0]!;
    if (!isSafeName(target)) usageError(USAGE, `TARGET '${target.slice(0, 80)}' is not a batch id, task id or agent name (letters, digits, '.', '_', '-')`);
    const paths = mountPaths(shared);
    const found = await identify(verb, paths, target);
    if ('problem' in found) {
      process.stderr.write(`${verb}: ${found.problem}\n`);
      process.exit(1);
    }
    const kind: ControlKind = verb === 'resume' ? 'pause' : verb;
    let file = controlPath(paths, kind, target);
    let said = outcome(verb, found.kind, target);
    try {
      if (verb === 'resume') {
        if (!(await removeControl(paths, 'pause', target))) said = `${found.kind === 'rig' ? 'the rig' : `${found.kind} ${target}`} was not paused`;
      } else {
        file = await writeControl(paths, kind, target);
      }
    } catch (err) {
      process.stderr.write(`${verb}: could not write ${file}: ${errorMessage(err)}\n`);
      process.exit(1);
    }
    if (values.json) process.stdout.write(JSON.stringify({ action: verb, target, kind: found.kind, file }, null, 2) + '\n');
    else process.stdout.write(`${said}\n${file}\n`);
  });
}
