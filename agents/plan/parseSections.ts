// plan.md's ## sections, and the readers of the simple ones (goal, inputs, scripts). Pure:
// markdown nodes in, typed parts out, problems handed to `report`.
import type { List, ListItem, Nodes, Root, RootContent } from 'mdast';
import { unwrapBackticks } from './fieldValues.ts';
import { textOf, type Report, type SourceText } from './sourceText.ts';
import type { PlanInput, PlanScript, PlanSection } from './types.ts';

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

export interface Section {
  /** null: a section the parser does not read (notes, or the text under the # title). */
  kind: PlanSection | null;
  line: number;
  nodes: RootContent[];
}

/** The document's sections in order, and its title: the front matter's, else the first # heading. */
export function splitSections(tree: Root, src: SourceText, title: string | null): { title: string | null; sections: Section[] } {
  const sections: Section[] = [];
  for (const node of tree.children) {
    if (node.type === 'heading' && node.depth === 1) {
      title ??= textOf(node).trim();
      sections.push({ kind: null, line: src.lineOf(node), nodes: [] });
      continue;
    }
    if (node.type === 'heading' && node.depth === 2) {
      // "## 3. Tasks:", "## Tasks (in order)" and "## tasks" all name the Tasks section.
      const key = textOf(node).trim().toLowerCase().replace(/^\d+[.)]\s*/, '').replace(/\s*\(.*\)$/, '').replace(/:$/, '').trim();
      sections.push({ kind: SECTION_NAMES[key] ?? null, line: src.lineOf(node), nodes: [] });
      continue;
    }
    sections.at(-1)?.nodes.push(node);
  }
  return { title, sections };
}

/** A goal section's text as written, or null when it is empty. */
export function readGoal(nodes: RootContent[], src: SourceText): string | null {
  return nodes.map(src.sourceOf).join('\n\n').trim() || null;
}

/** Inputs written '- **NAME**: default — description', one per list item. */
export function readInputs(nodes: RootContent[], src: SourceText, report: Report): PlanInput[] {
  const inputs: PlanInput[] = [];
  for (const list of nodes.filter((n): n is List => n.type === 'list')) {
    for (const item of list.children) {
      const input = readInput(item, src);
      if (input) inputs.push(input);
      else report(src.lineOf(item), `expected an input written '- **NAME**: default' (or '- **NAME**: (required)' for one with no default), found '${src.sourceOf(item).split('\n')[0]}'`);
    }
  }
  return inputs;
}

function readInput(item: ListItem, src: SourceText): PlanInput | null {
  const f = src.readField(item, false);
  if (!f) return null;
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
  return { name: f.name, default: dflt, description, line: f.line };
}

/** The first inline code or code block in a node (other than `skip`): a script's run command. */
function firstCode(n: Nodes, skip: Nodes | null): string | null {
  if (n !== skip && (n.type === 'inlineCode' || n.type === 'code')) return n.value;
  if ('children' in n) {
    for (const c of n.children as Nodes[]) {
      const found = firstCode(c, skip);
      if (found !== null) return found;
    }
  }
  return null;
}

/** Scripts written either as ### headings with text and code under them, or as one list. */
export function readScripts(nodes: RootContent[], src: SourceText): PlanScript[] {
  const scripts: PlanScript[] = [];
  let current: PlanScript | null = null;
  for (const node of nodes) {
    if (node.type === 'heading') {
      current = { name: textOf(node).trim(), run: null, description: null, line: src.lineOf(node) };
      scripts.push(current);
    } else if (node.type === 'list' && !current) {
      for (const item of node.children) {
        const script = listedScript(item, src);
        if (script) scripts.push(script);
      }
    } else if (current) {
      current.run ??= firstCode(node, null);
      if (node.type === 'paragraph') current.description ??= src.sourceOf(node).trim();
    }
  }
  return scripts;
}

/** '- **name** — what it does, `run command`': the name is the first bold or code text. */
function listedScript(item: ListItem, src: SourceText): PlanScript | null {
  const para = item.children[0];
  if (!para || para.type !== 'paragraph') return null;
  const nameNode = para.children.find((c) => c.type === 'strong' || c.type === 'inlineCode') ?? null;
  const name = nameNode ? textOf(nameNode).trim() : textOf(para).split(/[:—]/)[0]!.trim();
  const run = firstCode(item, nameNode);
  const f = src.readField(item, false);
  const description = (f ? [f.value, f.extra].filter(Boolean).join('\n\n') : src.sourceOf(para)).trim() || null;
  return { name, run, description, line: src.lineOf(item) };
}
