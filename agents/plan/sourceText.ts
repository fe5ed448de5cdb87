// The markdown body as its author wrote it: plan.md line numbers for nodes (the front matter's
// lines added back) and values sliced from the source text, never rebuilt from the tree, so
// markdown never eats an '_' or a '*' of a command.
import type { Code, ListItem, Nodes, RootContent } from 'mdast';

export interface FieldItem {
  /** The field's name as written between the ** **. */
  name: string;
  /** The value: the rest of the item's first paragraph, or a code block below it when that is empty. */
  value: string;
  line: number;
  /** Other text in the list item (continuation paragraphs), for descriptions. */
  extra: string | null;
}

export interface SourceText {
  /** The node's first line in plan.md. */
  lineOf(node: { position?: { start: { line: number } } }): number;
  /** The node's text exactly as written. */
  sourceOf(node: RootContent): string;
  /** Reads `**name**: value` from a list item; null when the item is not written that way. */
  readField(item: ListItem, multiline: boolean): FieldItem | null;
}

const FIELD_RE = /^\*\*\s*([^*\n]+?)\s*(:?)\s*\*\*[ \t]*(:?)[ \t]*/;

/** The text of a node and its children, markup left out (for headings and names). */
export function textOf(node: Nodes): string {
  if ('value' in node && typeof node.value === 'string') return node.value;
  if ('children' in node) return (node.children as Nodes[]).map(textOf).join('');
  return '';
}

/** 'Task Class', 'task-class' and 'task_class' all name task_class. */
export function normalizeFieldName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** `body` is plan.md after its front matter, which took `offset` lines. */
export function sourceText(body: string, offset: number): SourceText {
  const lineOf: SourceText['lineOf'] = (node) => (node.position?.start.line ?? 1) + offset;
  const sourceOf: SourceText['sourceOf'] = (node) => body.slice(node.position?.start.offset ?? 0, node.position?.end.offset ?? 0);
  const readField: SourceText['readField'] = (item, multiline) => {
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
  return { lineOf, sourceOf, readField };
}

/** Where a reader reports what it could not read: a plan.md line and a message. */
export type Report = (line: number, message: string) => void;
