// npm run status -- [--json] [--shared DIR]: one look at the rig.
import { parseCommand } from '../agents/core/args.ts';
import { errorMessage } from '../agents/core/errors.ts';
import { readSnapshot } from '../agents/status/snapshot.ts';
import { toStatusJson } from '../agents/status/json.ts';
import { renderStatus } from '../agents/status/text.ts';
import { summarize } from '../agents/status/view.ts';

const USAGE = `usage: npm run status -- [--json] [--shared DIR]
  --json        print one JSON object: { batches, gpus, queue, ... }
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)`;

const { values, positionals, shared } = parseCommand(USAGE, { json: { type: 'boolean' } });
if (positionals.length > 0) {
  process.stderr.write(`unexpected argument "${positionals[0]}"\n${USAGE}\n`);
  process.exit(1);
}

try {
  const snap = await readSnapshot(shared, Date.now());
  const view = summarize(snap);
  process.stdout.write(values.json ? JSON.stringify(toStatusJson(snap, view), null, 2) + '\n' : renderStatus(snap, view));
} catch (err) {
  // Every file is read defensively (bad ones are listed, not thrown); this is the last guard: one line, not a stack.
  process.stderr.write(`status: could not read the rig at ${shared}: ${errorMessage(err)}\n`);
  process.exit(1);
}
