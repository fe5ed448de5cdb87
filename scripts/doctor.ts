// forge doctor [--repair] [--json] [--shared DIR]: checks the mount for inconsistencies.
// Report-only by default (changes nothing); --repair applies each finding's repair.
// Exit 0 when no problem is left, 1 when problems remain, 2 when there is no mount.
import { stat } from 'node:fs/promises';
import { parseCommand } from '../agents/core/args.ts';
import { printable } from '../agents/core/decisionLog.ts';
import { errorMessage } from '../agents/core/errors.ts';
import { mountPaths } from '../agents/core/paths.ts';
import { countFindings, formatCount, formatFinding } from '../agents/doctor/findings.ts';
import { examineMount } from '../agents/doctor/inspect.ts';
import { applyRepairs } from '../agents/doctor/repair.ts';

const USAGE = `usage: forge doctor [--repair] [--json] [--shared DIR]
  --repair      apply the repair shown after → on each line (default: report only, change nothing)
  --json        print one JSON object: { shared, brain, findings, counts, repairs }
  --shared DIR  the shared mount (default: $RIG_SHARED, else ./shared)
  -h, --help    print this help and exit
Each finding is one line: KIND path-or-id: what is wrong → what --repair does.
Exit status: 0 no problems (informational lines aside), 1 problems found (or left after --repair), 2 no mount or a usage error.`;

const { values, shared } = parseCommand(USAGE, { repair: { type: 'boolean' }, json: { type: 'boolean' } }, undefined, { positionals: { max: 0 } });
const paths = mountPaths(shared);
if (!(await stat(paths.root).then((s) => s.isDirectory(), () => false))) {
  process.stderr.write(`doctor: no mount at ${paths.root}: give --shared DIR or set RIG_SHARED\n`);
  process.exit(2);
}

// Every file is read defensively (a bad one is a finding); this is the last guard: one line, not a stack.
const examined = await examineMount(paths).catch((err: unknown) => {
  process.stderr.write(`doctor: could not inspect ${paths.root}: ${errorMessage(err)}\n`);
  return process.exit(1);
});
const { snapshot, findings } = examined;
// File ages are judged on the mount's own clock (a probe file's time); without one, on this host's.
if (snapshot.clockProblem) process.stderr.write(`doctor: ${printable(snapshot.clockProblem, 500)}; file ages are judged on this host's clock instead\n`);
const counts = countFindings(findings);
const outcomes = values.repair ? await applyRepairs(paths, findings) : [];

// What is still wrong: problems --repair cannot fix, and repairs that failed.
const unfixed = values.repair
  ? counts.manual + outcomes.filter((o) => o.status === 'failed').length
  : counts.problems;

if (values.json) {
  const json = {
    shared: paths.root,
    brain: snapshot.brain,
    findings: findings.map(({ kind, subject, problem, action, severity }) => ({ kind, subject, problem, action, severity })),
    counts,
    repairs: values.repair
      ? outcomes.map((o) => ({ kind: o.finding.kind, subject: o.finding.subject, status: o.status, changes: o.changes, note: o.note }))
      : null,
    problems_left: unfixed,
  };
  process.stdout.write(JSON.stringify(json, null, 2) + '\n');
} else {
  const lines = findings.map(formatFinding);
  lines.push(formatCount(findings));
  if (values.repair) {
    for (const o of outcomes) {
      for (const c of o.changes) lines.push(`repaired: ${c}`);
      if (o.status === 'resolved') lines.push(`already fixed: ${o.finding.kind} ${o.finding.subject}: ${o.note}`);
      if (o.status === 'failed') lines.push(`not repaired: ${o.note}`);
    }
    for (const f of findings) if (f.severity === 'manual') lines.push(`not repaired (for a person): ${f.kind} ${f.subject}`);
    const fixed = outcomes.filter((o) => o.status !== 'failed').length;
    lines.push(`doctor: repaired ${fixed} of ${counts.problems} problems${unfixed ? `; ${unfixed} left` : ''}`);
  }
  // File names and problems come from the mount: no control character reaches the terminal.
  process.stdout.write(lines.map((l) => printable(l, Infinity)).join('\n') + '\n');
}
process.exit(unfixed > 0 ? 1 : 0);
