// forge status [--json] [--shared DIR] (npm run status): one look at the rig.
import '../agents/core/shortLived.ts';
import { access } from 'node:fs/promises';
import { parseCommand, runCommand, writeStdout } from '../agents/core/args.ts';
import { mountPaths } from '../agents/core/paths.ts';
import { errorMessage } from '../agents/core/errors.ts';
import { readSnapshot } from '../agents/status/snapshot.ts';
import { toStatusJson } from '../agents/status/json.ts';
import { renderStatus } from '../agents/status/text.ts';
import { summarize } from '../agents/status/view.ts';

const USAGE = `usage: forge status [--json] [--shared DIR]
  --json        print one JSON object: { batches, gpus, queue, ... }
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)`;

async function main(): Promise<void> {
  const { values, shared } = parseCommand(USAGE, { json: { type: 'boolean' } }, undefined, { positionals: { max: 0 } });

  try {
    const snap = await readSnapshot(shared, Date.now());
    const view = summarize(snap);
    writeStdout(values.json ? JSON.stringify(toStatusJson(snap, view), null, 2) + '\n' : renderStatus(snap, view));
    // A config that is there but refused is the one thing status fails on: the rig will not
    // start with it, and a script that checks the rig must hear so. No config yet is fine.
    if (snap.config === null && (await access(mountPaths(shared).config).then(() => true, () => false))) {
      process.stderr.write(`status: the config is refused (the rig will not start with it): ${snap.config_problem}\n`);
      process.exitCode = 1;
    }
  } catch (err) {
    // Every file is read defensively (bad ones are listed, not thrown); this is the last guard: one line, not a stack.
    process.stderr.write(`status: could not read the rig at ${shared}: ${errorMessage(err)}\n`);
    process.exit(1);
  }
}

runCommand(main);
