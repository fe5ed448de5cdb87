// forge submit PLAN [--config JSON] [--dry-run] [--json] [--shared DIR], or --resume BATCH (npm run submit -- ...)
// Validates the plan, puts it on the mount and writes the submission. On any problem it
// prints every `file:line: message` to stderr and exits 1 having written nothing. On
// success the last line of stdout is the batch id (with --json: stdout is one JSON object).
import '../agents/core/shortLived.ts';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeArgError } from '../agents/core/args.ts';
import { resolveShared } from '../agents/core/paths.ts';
import { shortPath, submitPlan } from '../agents/plan/submit.ts';
import { runResumeCommand } from '../agents/plan/resumeRequest.ts';
import { runDryRunCommand } from '../agents/plan/dryRunCommand.ts';

const USAGE = `usage: forge submit PLAN [--config JSON] [--priority N] [--dry-run] [--json] [--shared DIR]
       forge submit --resume BATCH [--json] [--shared DIR]
  PLAN            a plan folder (anywhere), or the name of a folder under <shared>/plans/
  --resume BATCH  run a failed or cancelled batch again in place: tasks whose inputs are
                  unchanged and whose outputs exist stay complete; the others and their
                  dependants run again with fresh attempts (plans/PLAN_FORMAT.md, "Resume")
  --config JSON   input values of the plan, e.g. --config '{"COUNT": 5}'
  --priority N    1 (highest) to 5 (lowest): claimed before lower priorities (default: the plan's
                  front matter priority, else 3); batches of one priority take turns
  --json          print one JSON object: { batch_id, plan, plan_dir, placement, inbox_file }
  --dry-run       check the plan and print what the batch would do, submitting and writing
                  nothing: its tasks in order, the predicted wall time and peak VRAM per GPU
                  (from what the brain learned of earlier runs), model loads, and what would
                  wait for approval; with --json, one JSON document
  --shared DIR    the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help      print this help and exit`;

const OPTIONS = {
  config: { type: 'string' },
  priority: { type: 'string' },
  resume: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  shared: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A usage error: the problem and the usage on stderr, exit 2. */
function refuse(problem: string): number {
  process.stderr.write(`submit: ${problem}\n${USAGE}\n`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    return refuse(describeArgError(err, OPTIONS));
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.values.resume !== undefined) {
    if (args.positionals.length || args.values.config !== undefined || args.values.priority !== undefined) return refuse('--resume BATCH takes no PLAN, --config or --priority: the batch runs again with its own plan and values');
    if (args.values['dry-run']) return refuse('--resume and --dry-run do not go together: a dry run predicts a new batch of a PLAN');
    return runResumeCommand(args.values.resume, args.values.shared, args.values.json === true);
  }
  if (args.positionals.length !== 1) return refuse(`expected exactly one PLAN, got ${args.positionals.length}`);
  const priority = args.values.priority === undefined ? undefined : Number(args.values.priority);
  if (priority !== undefined && !(Number.isInteger(priority) && priority >= 1 && priority <= 5)) return refuse(`--priority ${args.values.priority}: expected a whole number from 1 (highest) to 5 (lowest)`);
  // `npm run submit` (or `npm run forge -- submit`) starts us in the package root; paths a person typed are relative to where they were.
  const viaNpm = process.env.npm_lifecycle_event === 'submit' || process.env.npm_lifecycle_event === 'forge';
  const cwd = viaNpm && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
  const shared = args.values.shared !== undefined ? resolve(cwd, args.values.shared) : resolveShared(undefined);
  if (args.values['dry-run']) return runDryRunCommand({ plan: args.positionals[0]!, config: args.values.config, shared, cwd, priority }, args.values.json === true);
  const outcome = await submitPlan({ plan: args.positionals[0]!, config: args.values.config, shared, cwd, priority });
  if (!outcome.ok) {
    for (const p of outcome.problems) process.stderr.write(`${p}\n`);
    const n = outcome.problems.length;
    process.stderr.write(`submit: ${n} problem${n === 1 ? '' : 's'}; nothing was submitted\n`);
    return 1;
  }
  if (args.values.json) {
    const json = { batch_id: outcome.batchId, plan: outcome.planName, plan_dir: outcome.planDir, placement: outcome.placement, inbox_file: outcome.inboxFile };
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    return 0;
  }
  const where = shortPath(outcome.planDir, cwd);
  const placed = {
    'in-place': `plan ${outcome.planName} is on the mount at ${where}`,
    copied: `plan ${outcome.planName} copied to ${where}`,
    updated: `plan ${outcome.planName} at ${where}: updated ${outcome.updatedFiles.join(', ')}`,
    unchanged: `plan ${outcome.planName} at ${where} is unchanged`,
  }[outcome.placement];
  process.stdout.write(`${placed}\nsubmitted as ${shortPath(outcome.inboxFile, cwd)}; the brain picks it up on its next cycle\n${outcome.batchId}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`submit: failed unexpectedly: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  },
);
