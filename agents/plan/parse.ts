// plan.md → the typed Plan. Pure: text in, plan and problems out. Markdown is parsed with
// remark so every line number is the real line in plan.md (front matter included); field
// values are sliced from the source text, so what the author wrote is what the rig reads
// (markdown never eats an '_' or a '*' of a command). This layer reports only the shape of
// the document (sections, field items, field names); validatePlan judges the values.
import matter from 'gray-matter';
import type { Code, Heading, List, ListItem, Nodes, RootContent } from 'mdast';
import { basename } from 'node:path';
import { EXECUTORS, TASK_CLASSES, type Executor, type TaskClass, type TaskType } from '../core/task.ts';
import type { Plan, PlanInput, PlanScript, PlanSection, PlanTaskSpec } from './types.ts';
import { PLAN_LIMITS } from './limits.ts';
import { parseMarkdown } from './markdown.ts';
import { figure, textLimitProblems } from './textLimits.ts';
import { suggest } from './suggest.ts';

export { suggest };

/** Fields a task may have, in the order PLAN_FORMAT.md documents them. */
export const TASK_FIELDS = [
  'executor',
  'task_class',
  'type',
  'command',
  'depends_on',
  'foreach',
  'vram_estimate_mb',
  'timeout_s',
  'prompt',
  'output_schema',
  'model',
  'description',
] as const;
export type TaskField = (typeof TASK_FIELDS)[number];

/** Task types a plan may use (batch_summary is added by the rig, never written). */
export const PLAN_TASK_TYPES = ['shell', 'generate', 'parse', 'load_llm', 'unload_llm'] as const;

/** Section headings (## ...) the parser knows, lower-cased; any other section is notes. */
const SECTION_NAMES: Record<string, PlanSection> = {
  goal: 'goal',
  goals: 'goal',
  inputs: 'inputs',
  'available scripts': 'scripts',
  scripts: 'scripts',
  tasks: 'tasks',
  workflow: 'tasks',
};

/** An input with this default text (or none at all) has no default: --config must give it. */
const REQUIRED_MARKERS = new Set(['', '(required)', 'required']);

export interface ParseResult {
  plan: Plan;
  problems: string[];
  /** Set when the text was refused before being parsed (a limit, code in the front matter): the plan is empty. */
  stopped?: true;
}

interface FieldItem {
  /** The field's name as written between the ** **. */
  name: string;
  /** The value: the rest of the item's first paragraph, or a code block below it when that is empty. */
  value: string;
  line: number;
  /** Other text in the list item (continuation paragraphs), for descriptions. */
  extra: string | null;
}

const FIELD_RE = /^\*\*\s*([^*\n]+?)\s*(:?)\s*\*\*[ \t]*(:?)[ \t]*/;

/** Strips one pair of backticks around the whole value (`cmd`, ``cmd with ` in it``). */
export function unwrapBackticks(value: string): string {
  const m = /^(`+)([\s\S]*)$/.exec(value);
  if (!m) return value;
  const fence = m[1]!;
  if (!value.endsWith(fence) || value.length < fence.length * 2) return value;
  const inner = value.slice(fence.length, value.length - fence.length);
  if (inner.startsWith('`') || inner.endsWith('`')) return value;
  // Not wrapped when the inner text holds a run of exactly the fence's length: `a` and `b`.
  for (const run of inner.match(/`+/g) ?? []) if (run.length === fence.length) return value;
  if (inner.length >= 2 && inner.startsWith(' ') && inner.endsWith(' ') && inner.trim() !== '') return inner.slice(1, -1);
  return inner;
}

function textOf(node: Nodes): string {
  if ('value' in node && typeof node.value === 'string') return node.value;
  if ('children' in node) return (node.children as Nodes[]).map(textOf).join('');
  return '';
}

function normalizeFieldName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** A comma separated list of task names: `a, b`, [a, b], none, -, or nothing. */
export function splitDependencies(value: string): string[] {
  let v = value.trim();
  if (v.startsWith('[') && v.endsWith(']')) v = v.slice(1, -1);
  if (/^(none|-|—)?$/i.test(v.trim())) return [];
  return v
    .split(',')
    .map((s) => unwrapBackticks(s.trim()).trim())
    .filter((s) => s !== '');
}

/** Splits `path:key` at the LAST ':' (a path may hold ':' itself); null without any ':'. */
export function splitForeach(value: string): { path: string; key: string } | null {
  const i = value.lastIndexOf(':');
  if (i < 0) return null;
  return { path: value.slice(0, i).trim(), key: value.slice(i + 1).trim() };
}

/** A plan with nothing in it, returned beside problems that stop the parse early. */
function emptyPlan(file: string, dir: string): Plan {
  return { file, dir, name: basename(dir), frontMatter: {}, title: null, goal: null, inputs: [], scripts: [], tasks: [], sectionLines: {} };
}

/** gray-matter's engines that would run code, each replaced by one that refuses. */
const refuse = (): never => {
  throw new Error('front matter in a programming language is never evaluated; write it as YAML');
};
const CODE_ENGINES_REFUSED = Object.fromEntries(['js', 'javascript', 'coffee', 'coffeescript', 'cson'].map((n) => [n, { parse: refuse, stringify: refuse }]));

export function parsePlan(text: string, file: string, dir: string): ParseResult {
  const problems: string[] = [];
  const report = (line: number, message: string) => problems.push(`${file}:${line}: ${message}`);

  // Size, headings and nesting are checked on the text first: over any limit, nothing parses it.
  const overLimits = textLimitProblems(text, file);
  if (overLimits.length) return { plan: emptyPlan(file, dir), problems: overLimits, stopped: true };

  // Front matter: gray-matter hands back the body as a suffix of the text, so the lines
  // before it are the offset that turns body line numbers into plan.md line numbers.
  let body = text;
  let offset = 0;
  let frontMatter: Record<string, unknown> = {};
  // Front matter is data: YAML only. gray-matter would evaluate '---js' (or '---javascript')
  // front matter as JavaScript, so any language after the opening '---' is refused before it
  // sees the text, and its code engines are replaced by ones that refuse, in case one slips by.
  const language = /^---[ \t]*([^\s-][^\n]*?)[ \t]*\r?\n/.exec(text)?.[1];
  if (language !== undefined && !/^ya?ml$/i.test(language)) {
    report(1, `front matter must be YAML (lines of 'key: value' between two '---' lines); this one opens with '---${language.slice(0, 40)}', which is not read: nothing in it was run`);
    return { plan: emptyPlan(file, dir), problems, stopped: true };
  }
  try {
    // An options object keeps gray-matter from caching (and sharing) results by text.
    const fm = matter(text, { engines: CODE_ENGINES_REFUSED });
    if (text.endsWith(fm.content)) {
      body = fm.content;
      offset = text.slice(0, text.length - body.length).split('\n').length - 1;
      frontMatter = { ...(fm.data as Record<string, unknown>) };
    }
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    report(1, `front matter is not valid YAML (${reason}); write it as lines of 'key: value' between two '---' lines, or remove it`);
  }

  const lineOf = (node: { position?: { start: { line: number } } }) => (node.position?.start.line ?? 1) + offset;
  const sourceOf = (node: RootContent) => body.slice(node.position?.start.offset ?? 0, node.position?.end.offset ?? 0);

  /** Reads `**name**: value` from a list item; null when the item is not written that way. */
  const readField = (item: ListItem, multiline: boolean): FieldItem | null => {
    const first = item.children[0];
    if (!first || first.type !== 'paragraph') return null;
    const raw = sourceOf(first);
    const m = FIELD_RE.exec(raw);
    if (!m || (m[2] === '') === (m[3] === '')) return null; // exactly one ':' inside or after the **
    const lines = raw.slice(m[0].length).split('\n').map((l) => l.trim());
    let value = (multiline ? lines.join('\n') : lines.join(' ')).trim();
    const rest = item.children.slice(1);
    const code = rest.find((n): n is Code => n.type === 'code');
    if (value === '' && code) value = code.value;
    const extra = rest
      .filter((n) => n !== code)
      .map((n) => sourceOf(n).trim())
      .join('\n\n');
    return { name: m[1]!.trim(), value, line: lineOf(first), extra: extra || null };
  };

  // Split the document into its ## sections.
  const tree = parseMarkdown(body);
  let title: string | null = typeof frontMatter.title === 'string' ? frontMatter.title : null;
  const sections: Array<{ kind: PlanSection | null; line: number; nodes: RootContent[] }> = [];
  for (const node of tree.children) {
    if (node.type === 'heading' && node.depth === 1) {
      title ??= textOf(node).trim();
      sections.push({ kind: null, line: lineOf(node), nodes: [] });
      continue;
    }
    if (node.type === 'heading' && node.depth === 2) {
      // "## 3. Tasks:", "## Tasks (in order)" and "## tasks" all name the Tasks section.
      const key = textOf(node).trim().toLowerCase().replace(/^\d+[.)]\s*/, '').replace(/\s*\(.*\)$/, '').replace(/:$/, '').trim();
      sections.push({ kind: SECTION_NAMES[key] ?? null, line: lineOf(node), nodes: [] });
      continue;
    }
    sections.at(-1)?.nodes.push(node);
  }

  const sectionLines: Plan['sectionLines'] = {};
  let goal: string | null = null;
  const inputs: PlanInput[] = [];
  const scripts: PlanScript[] = [];
  const tasks: PlanTaskSpec[] = [];

  for (const section of sections) {
    if (section.kind === null) continue;
    sectionLines[section.kind] ??= section.line;
    if (section.kind === 'goal') {
      const text = section.nodes.map(sourceOf).join('\n\n').trim();
      if (text) goal = goal ? `${goal}\n\n${text}` : text;
    } else if (section.kind === 'inputs') {
      readInputs(section.nodes);
    } else if (section.kind === 'scripts') {
      readScripts(section.nodes);
    } else {
      readTasks(section.nodes);
    }
  }

  function readInputs(nodes: RootContent[]): void {
    for (const list of nodes.filter((n): n is List => n.type === 'list')) {
      for (const item of list.children) {
        const f = readField(item, false);
        if (!f) {
          report(lineOf(item), `expected an input written '- **NAME**: default' (or '- **NAME**: (required)' for one with no default), found '${sourceOf(item).split('\n')[0]}'`);
          continue;
        }
        // `value` keeps anything literally; otherwise " — text" after the default is its description.
        let value = f.value;
        let description = f.extra;
        const dash = value.startsWith('`') ? -1 : value.indexOf(' — ');
        if (dash >= 0) {
          description = [value.slice(dash + 3).trim(), description].filter(Boolean).join('\n\n') || null;
          value = value.slice(0, dash).trim();
        } else if (value.startsWith('`')) {
          const m = /^(`+)(?:(?!\1)[\s\S])*?\1/.exec(value);
          if (m && m[0].length < value.length) {
            const after = value.slice(m[0].length).trim().replace(/^—\s*/, '');
            description = [after, description].filter(Boolean).join('\n\n') || null;
            value = m[0];
          }
        }
        let dflt: string | null;
        if (REQUIRED_MARKERS.has(value.toLowerCase())) dflt = null;
        else if (value === '""' || value === "''") dflt = '';
        else dflt = unwrapBackticks(value);
        inputs.push({ name: f.name, default: dflt, description, line: f.line });
      }
    }
  }

  function readScripts(nodes: RootContent[]): void {
    const firstCode = (n: Nodes, skip: Nodes | null): string | null => {
      if (n !== skip && (n.type === 'inlineCode' || n.type === 'code')) return n.value;
      if ('children' in n) {
        for (const c of n.children as Nodes[]) {
          const found = firstCode(c, skip);
          if (found !== null) return found;
        }
      }
      return null;
    };
    let current: PlanScript | null = null;
    for (const node of nodes) {
      if (node.type === 'heading') {
        current = { name: textOf(node).trim(), run: null, description: null, line: lineOf(node) };
        scripts.push(current);
      } else if (node.type === 'list' && !current) {
        for (const item of node.children) {
          const para = item.children[0];
          if (!para || para.type !== 'paragraph') continue;
          const nameNode = para.children.find((c) => c.type === 'strong' || c.type === 'inlineCode') ?? null;
          const name = nameNode ? textOf(nameNode).trim() : textOf(para).split(/[:—]/)[0]!.trim();
          const run = firstCode(item, nameNode);
          const f = readField(item, false);
          const description = (f ? [f.value, f.extra].filter(Boolean).join('\n\n') : sourceOf(para)).trim() || null;
          scripts.push({ name, run, description, line: lineOf(item) });
        }
      } else if (current) {
        current.run ??= firstCode(node, null);
        if (node.type === 'paragraph') current.description ??= sourceOf(node).trim();
      }
    }
  }

  function readTasks(nodes: RootContent[]): void {
    // Each heading (### or deeper) owns the nodes up to the next heading. A heading with a
    // field list is a task; one without fields and with deeper headings after it is a group
    // (a phase: ### init, then #### scan), so tasks may be grouped without being misread.
    const entries: Array<{ heading: Heading; nodes: RootContent[] }> = [];
    for (const node of nodes) {
      if (node.type === 'heading') entries.push({ heading: node, nodes: [] });
      else entries.at(-1)?.nodes.push(node);
    }
    const isFieldList = (n: RootContent): n is List =>
      n.type === 'list' && n.children.some((item) => readField(item, false) !== null);
    entries.forEach((entry, i) => {
      const name = textOf(entry.heading).trim();
      const line = lineOf(entry.heading);
      const lists = entry.nodes.filter(isFieldList);
      if (lists.length === 0) {
        const next = entries[i + 1];
        if (next && next.heading.depth > entry.heading.depth) return; // a group of tasks
        report(line, `heading '${name}' has no fields: a task is a '### name' heading followed by '- **field**: value' items (at least a command, or a prompt for generate/parse); to group tasks in a phase, put them one heading level deeper (#### name)`);
        return;
      }
      tasks.push(readTask(name, line, entry.nodes, lists));
    });
  }

  function readTask(name: string, line: number, nodes: RootContent[], lists: List[]): PlanTaskSpec {
    const raw: Record<string, string> = {};
    const fieldLines: Record<string, number> = {};
    const description: string[] = [];
    for (const node of nodes) {
      if (node.type === 'paragraph') description.push(sourceOf(node).trim());
    }
    for (const list of lists) {
      for (const item of list.children) {
        const probe = readField(item, false);
        const f = probe && normalizeFieldName(probe.name) === 'prompt' ? readField(item, true) : probe;
        if (!f) {
          report(lineOf(item), `task '${name}': expected a field written '- **name**: value', found '${sourceOf(item).split('\n')[0]}'; fields: ${TASK_FIELDS.join(', ')}`);
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

  if (tasks.length > PLAN_LIMITS.tasks) {
    report(sectionLines.tasks ?? 1, `the plan has ${figure(tasks.length)} tasks, over the limit of ${figure(PLAN_LIMITS.tasks)} tasks per plan; split the work into several plans, or write one task with a foreach over a manifest of items`);
  }

  const plan: Plan = {
    file,
    dir,
    name: basename(dir),
    frontMatter,
    title,
    goal,
    inputs,
    scripts,
    tasks,
    sectionLines,
  };
  return { plan, problems };
}

/** Reads what can be read from the raw field text; validatePlan reports what cannot. */
function typedTask(
  name: string,
  line: number,
  raw: Record<string, string>,
  fieldLines: Record<string, number>,
  description: string | null,
): PlanTaskSpec {
  const lower = (k: string) => raw[k]?.toLowerCase();
  const type = (PLAN_TASK_TYPES as readonly string[]).includes(lower('type') ?? '') ? (lower('type') as TaskType) : 'shell';
  const executorRaw = lower('executor');
  // Meta tasks are run by the GPU agent itself; every other type by a worker subprocess.
  const executor: Executor =
    executorRaw !== undefined && (EXECUTORS as readonly string[]).includes(executorRaw)
      ? (executorRaw as Executor)
      : type === 'load_llm' || type === 'unload_llm'
        ? 'agent'
        : 'worker';
  const cls = lower('task_class');
  const task_class = cls !== undefined && (TASK_CLASSES as readonly string[]).includes(cls) ? (cls as TaskClass) : null;
  const foreach = raw.foreach !== undefined ? splitForeach(raw.foreach) : null;
  let output_schema: Record<string, unknown> | null = null;
  if (raw.output_schema !== undefined) {
    try {
      const v: unknown = JSON.parse(raw.output_schema);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) output_schema = v as Record<string, unknown>;
    } catch {
      // validatePlan reports it
    }
  }
  return {
    name,
    line,
    fieldLines,
    raw,
    description: raw.description ?? description,
    executor,
    task_class,
    type,
    command: raw.command ? raw.command : null,
    depends_on: raw.depends_on !== undefined ? splitDependencies(raw.depends_on) : [],
    foreach,
    vram_estimate_mb: readInteger(raw.vram_estimate_mb, /^(\d+)\s*(mb|mib)?$/i),
    timeout_s: readInteger(raw.timeout_s, /^(\d+)\s*s?$/i),
    prompt: raw.prompt ? raw.prompt : null,
    output_schema,
    model: raw.model ? raw.model : null,
  };
}

function readInteger(value: string | undefined, re: RegExp): number | null {
  const m = value === undefined ? null : re.exec(value.trim());
  return m ? Number(m[1]) : null;
}
