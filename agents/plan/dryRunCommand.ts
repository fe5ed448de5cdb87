// The --dry-run path of `forge submit`: runs the dry run and prints it (text, or one JSON
// document with --json). Problems go to stderr as submit prints them, exit 1.
import { type DryRunOptions, dryRunPlan } from './dryRun.ts';
import { formatDryRun } from './dryRunText.ts';

export async function runDryRunCommand(opts: DryRunOptions, json: boolean): Promise<number> {
  const outcome = await dryRunPlan(opts);
  if (!outcome.ok) {
    for (const p of outcome.problems) process.stderr.write(`${p}\n`);
    const n = outcome.problems.length;
    process.stderr.write(`submit: ${n} problem${n === 1 ? '' : 's'}; nothing was submitted (dry run)\n`);
    return 1;
  }
  if (json) {
    process.stdout.write(JSON.stringify({ dry_run: true, ...outcome.report, notes: outcome.notes }, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(formatDryRun(outcome.report));
  for (const n of outcome.notes) process.stdout.write(`note: ${n}\n`);
  return 0;
}
