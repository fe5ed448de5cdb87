// The scheduled plans on the mount: every folder directly under <shared>/plans/ whose plan.md
// front matter has `schedule:`. plan.md is untrusted: read through the bounded reader, only its
// front matter looked at here (the whole plan is checked when the run is submitted).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readMountFileInside } from '../core/mountRead.ts';
import { type MountPaths, isSafeName } from '../core/paths.ts';
import { frontMatterKeyLines, readFrontMatter } from './frontMatter.ts';
import { PLAN_LIMITS } from './limits.ts';
import { type ScheduleSpec, readSchedule } from './schedule.ts';

// As load.ts's PLAN_FILE; not imported from there, which would bring the whole parser into forge status.
const PLAN_FILE = 'plan.md';

export interface FoundSchedule {
  plan: string;
  spec: ScheduleSpec;
}

/** A plan.md that says `schedule:` but cannot be read as one: `plan.md:LINE: message`. */
export interface ScheduleFileProblem {
  plan: string;
  problem: string;
}

export async function findScheduledPlans(paths: MountPaths): Promise<{ plans: FoundSchedule[]; problems: ScheduleFileProblem[] }> {
  const plans: FoundSchedule[] = [];
  const problems: ScheduleFileProblem[] = [];
  let names: string[];
  try {
    names = (await readdir(paths.plans, { withFileTypes: true })).filter((e) => e.isDirectory() && isSafeName(e.name)).map((e) => e.name).sort();
  } catch {
    return { plans, problems };
  }
  for (const plan of names) {
    const dir = join(paths.plans, plan);
    const file = join(dir, PLAN_FILE);
    const read = await readMountFileInside(file, dir, { maxBytes: PLAN_LIMITS.planBytes });
    if (!read.ok) continue; // not a plan folder (or not one yet); submitting it says why
    const fm = readFrontMatter(read.text);
    if (!('schedule' in fm.data)) {
      if (fm.problem && /^---[ \t]*\r?\n[\s\S]*?^schedule[ \t]*:/m.test(read.text)) problems.push({ plan, problem: `${file}:${fm.problem.line}: ${fm.problem.message}` });
      continue;
    }
    const { spec, problems: found } = readSchedule(fm.data);
    const lines = frontMatterKeyLines(read.text, fm.offset);
    for (const p of found) problems.push({ plan, problem: `${file}:${lines[p.key] ?? lines.schedule ?? 1}: ${p.message}` });
    if (spec) plans.push({ plan, spec });
  }
  return { plans, problems };
}
