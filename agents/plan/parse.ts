// plan.md → the typed Plan. Pure: text in, plan and problems out. Markdown is parsed with
// remark so every line number is the real line in plan.md (front matter included); field
// values are sliced from the source text, so what the author wrote is what the rig reads
// (markdown never eats an '_' or a '*' of a command). This layer reports only the shape of
// the document (sections, field items, field names); validatePlan judges the values.
//
// The steps, each in its own module: text limits (textLimits.ts), front matter
// (frontMatter.ts), sections and the goal, inputs and scripts in them (parseSections.ts),
// tasks (parseTasks.ts, typed by taskFields.ts), then the limit on the number of tasks.
import { basename } from 'node:path';
import { frontMatterKeyLines, readFrontMatter } from './frontMatter.ts';
import { PLAN_LIMITS } from './limits.ts';
import { parseMarkdown } from './markdown.ts';
import { readGoal, readInputs, readScripts, splitSections, type Section } from './parseSections.ts';
import { readTasks } from './parseTasks.ts';
import { sourceText, type Report, type SourceText } from './sourceText.ts';
import { suggest } from './suggest.ts';
import { figure, textLimitProblems } from './textLimits.ts';
import type { Plan } from './types.ts';

// What other modules and the tests import from here.
export { suggest };
export { splitDependencies, splitForeach, unwrapBackticks } from './fieldValues.ts';
export { PLAN_TASK_TYPES, TASK_FIELDS, type TaskField } from './taskFields.ts';

export interface ParseResult {
  plan: Plan;
  problems: string[];
  /** Set when the text was refused before being parsed (a limit, code in the front matter): the plan is empty. */
  stopped?: true;
}

/** A plan with nothing in it, returned beside problems that stop the parse early. */
function emptyPlan(file: string, dir: string): Plan {
  return { file, dir, name: basename(dir), frontMatter: {}, title: null, goal: null, inputs: [], scripts: [], tasks: [], sectionLines: {} };
}

export function parsePlan(text: string, file: string, dir: string): ParseResult {
  const problems: string[] = [];
  const report: Report = (line, message) => problems.push(`${file}:${line}: ${message}`);

  // Size, headings and nesting are checked on the text first: over any limit, nothing parses it.
  const overLimits = textLimitProblems(text, file);
  if (overLimits.length) return { plan: emptyPlan(file, dir), problems: overLimits, stopped: true };

  const fm = readFrontMatter(text);
  if (fm.problem) report(fm.problem.line, fm.problem.message);
  if (fm.stopped) return { plan: emptyPlan(file, dir), problems, stopped: true };

  const src = sourceText(fm.body, fm.offset);
  const { title, sections } = splitSections(parseMarkdown(fm.body), src, typeof fm.data.title === 'string' ? fm.data.title : null);
  const plan: Plan = { file, dir, name: basename(dir), frontMatter: fm.data, frontMatterLines: frontMatterKeyLines(text, fm.offset), title, ...readSections(sections, src, report) };
  if (plan.tasks.length > PLAN_LIMITS.tasks) {
    report(plan.sectionLines.tasks ?? 1, `the plan has ${figure(plan.tasks.length)} tasks, over the limit of ${figure(PLAN_LIMITS.tasks)} tasks per plan; split the work into several plans, or write one task with a foreach over a manifest of items`);
  }
  return { plan, problems };
}

/** Reads the known sections in document order; a section may appear more than once. */
function readSections(sections: Section[], src: SourceText, report: Report): Pick<Plan, 'goal' | 'inputs' | 'scripts' | 'tasks' | 'sectionLines'> {
  const read: ReturnType<typeof readSections> = { goal: null, inputs: [], scripts: [], tasks: [], sectionLines: {} };
  for (const section of sections) {
    if (section.kind === null) continue;
    read.sectionLines[section.kind] ??= section.line;
    if (section.kind === 'goal') {
      const text = readGoal(section.nodes, src);
      if (text) read.goal = read.goal ? `${read.goal}\n\n${text}` : text;
    } else if (section.kind === 'inputs') {
      read.inputs = read.inputs.concat(readInputs(section.nodes, src, report));
    } else if (section.kind === 'scripts') {
      read.scripts = read.scripts.concat(readScripts(section.nodes, src));
    } else {
      read.tasks = read.tasks.concat(readTasks(section.nodes, src, report));
    }
  }
  return read;
}
