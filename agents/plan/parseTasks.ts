// The Tasks section: one ### heading per task, each followed by '- **field**: value' items.
// Pure: markdown nodes in, typed tasks out, problems handed to `report`. This layer reports
// only the shape (a heading without fields, an item that is not a field, an unknown or
// repeated field name); validatePlan judges the values.
import type { Heading, List, RootContent } from 'mdast';
import { unwrapBackticks } from './fieldValues.ts';
import { normalizeFieldName, textOf, type Report, type SourceText } from './sourceText.ts';
import { suggest } from './suggest.ts';
import { TASK_FIELDS, typedTask } from './taskFields.ts';
import type { PlanTaskSpec } from './types.ts';

interface Entry {
  heading: Heading;
  /** The nodes up to the next heading. */
  nodes: RootContent[];
}

export function readTasks(nodes: RootContent[], src: SourceText, report: Report): PlanTaskSpec[] {
  // Each heading (### or deeper) owns the nodes up to the next heading. A heading with a
  // field list is a task; one without fields and with deeper headings after it is a group
  // (a phase: ### init, then #### scan), so tasks may be grouped without being misread.
  const entries: Entry[] = [];
  for (const node of nodes) {
    if (node.type === 'heading') entries.push({ heading: node, nodes: [] });
    else entries.at(-1)?.nodes.push(node);
  }
  const isFieldList = (n: RootContent): n is List => n.type === 'list' && n.children.some((item) => src.readField(item, false) !== null);
  const tasks: PlanTaskSpec[] = [];
  entries.forEach((entry, i) => {
    const name = textOf(entry.heading).trim();
    const line = src.lineOf(entry.heading);
    const lists = entry.nodes.filter(isFieldList);
    if (lists.length === 0) {
      const next = entries[i + 1];
      if (next && next.heading.depth > entry.heading.depth) return; // a group of tasks
      report(line, `heading '${name}' has no fields: a task is a '### name' heading followed by '- **field**: value' items (at least a command, or a prompt for generate/parse); to group tasks in a phase, put them one heading level deeper (#### name)`);
      return;
    }
    tasks.push(readTask(name, line, entry.nodes, lists, src, report));
  });
  return tasks;
}

function readTask(name: string, line: number, nodes: RootContent[], lists: List[], src: SourceText, report: Report): PlanTaskSpec {
  const raw: Record<string, string> = {};
  const fieldLines: Record<string, number> = {};
  const description: string[] = [];
  for (const node of nodes) {
    if (node.type === 'paragraph') description.push(src.sourceOf(node).trim());
  }
  for (const list of lists) {
    for (const item of list.children) {
      const probe = src.readField(item, false);
      // A prompt keeps its line breaks; every other field is one line.
      const f = probe && normalizeFieldName(probe.name) === 'prompt' ? src.readField(item, true) : probe;
      if (!f) {
        report(src.lineOf(item), `task '${name}': expected a field written '- **name**: value', found '${src.sourceOf(item).split('\n')[0]}'; fields: ${TASK_FIELDS.join(', ')}`);
        continue;
      }
      const field = normalizeFieldName(f.name);
      if (!(TASK_FIELDS as readonly string[]).includes(field)) {
        report(f.line, `task '${name}': unknown field '${f.name}'${suggest(field, TASK_FIELDS)}; allowed: ${TASK_FIELDS.join(', ')}`);
        continue;
      }
      if (field in raw) {
        report(f.line, `task '${name}': field '${field}' is given twice (first at line ${fieldLines[field]}); keep one`);
        continue;
      }
      raw[field] = field === 'prompt' ? unwrapBackticks(f.value).trim() : unwrapBackticks(f.value.trim()).trim();
      fieldLines[field] = f.line;
      if (f.extra && field === 'description') raw[field] += `\n\n${f.extra}`;
    }
  }
  return typedTask(name, line, raw, fieldLines, description.join('\n\n') || null);
}
