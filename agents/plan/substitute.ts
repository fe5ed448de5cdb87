// Placeholders and their substitution. Substitution works on the argument vector AFTER the
// command was tokenized, never on the raw command text: a value becomes part of exactly the
// one argument its placeholder sits in, whatever characters it holds. Each text is scanned
// once, so a value that itself looks like a placeholder ({ITEM.x}, {NAME}) stays literal.
//
// Grammar: {NAME} where NAME matches [A-Z_][A-Z0-9_]* (an input, or BATCH_PATH), and
// {ITEM} or {ITEM.field.field...} where each field matches [A-Za-z0-9_-]+. Anything else in
// braces ({"a": 1}, {lower}, { SPACED }) is not a placeholder and is left alone.
import { CHECKPOINT_DIR } from '../core/checkpoint.ts';

export const PLACEHOLDER_SOURCE = String.raw`\{([A-Z_][A-Z0-9_]*|ITEM(?:\.[A-Za-z0-9_-]+)+)\}`;

/** Names the rig fills itself; a plan input cannot use them. */
export const BATCH_PATH = 'BATCH_PATH';
export const ITEM = 'ITEM';
/** The task's own checkpoint folder (core/checkpoint.ts): known per task, so in a foreach template it is filled per child. */
export { CHECKPOINT_DIR };

export interface PlaceholderUse {
  /** What is between the braces: NAME, BATCH_PATH, ITEM, ITEM.path. */
  name: string;
  /** Index of the opening brace in the text. */
  index: number;
}

function placeholderRegex(): RegExp {
  return new RegExp(PLACEHOLDER_SOURCE, 'g');
}

export function findPlaceholders(text: string): PlaceholderUse[] {
  return [...text.matchAll(placeholderRegex())].map((m) => ({ name: m[1]!, index: m.index }));
}

export function isItemPlaceholder(name: string): boolean {
  return name === ITEM || name.startsWith(`${ITEM}.`);
}

/** Placeholders a foreach template keeps until its children are made: {ITEM...} and {CHECKPOINT_DIR} (one per child). */
export function isLatePlaceholder(name: string): boolean {
  return isItemPlaceholder(name) || name === CHECKPOINT_DIR;
}

/**
 * Replaces every placeholder that has a value in one pass. Placeholders without a value are
 * left as written (build leaves {ITEM.*} for foreach expansion). Replacement text is never
 * scanned again.
 */
export function substituteText(text: string, values: Record<string, string>): string {
  return text.replace(placeholderRegex(), (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? values[name]! : whole,
  );
}

/** Substitutes inside each argument; the result has exactly as many arguments as argv. */
export function substituteArgv(argv: string[], values: Record<string, string>): string[] {
  return argv.map((arg) => substituteText(arg, values));
}

// A foreach template is filled in two steps: inputs and BATCH_PATH when the batch is built,
// {ITEM.*} when the manifest is read. So that a value given in the first step can never be
// taken for a placeholder in the second, a template text is stored in "template encoding":
// every literal '{' is written '{{', and a single '{' only ever opens an {ITEM...} placeholder.
// Templates are never run; expandForeach decodes them with fillTemplate.

/** Fills non-ITEM placeholders and encodes the result as a template (see above). */
export function encodeTemplate(text: string, values: Record<string, string>): string {
  let out = '';
  let last = 0;
  const lit = (s: string) => s.replaceAll('{', '{{');
  for (const m of text.matchAll(placeholderRegex())) {
    const name = m[1]!;
    out += lit(text.slice(last, m.index));
    if (isLatePlaceholder(name)) out += m[0];
    else if (Object.prototype.hasOwnProperty.call(values, name)) out += lit(values[name]!);
    else out += lit(m[0]);
    last = m.index + m[0].length;
  }
  return out + lit(text.slice(last));
}

/**
 * Decodes a template text: '{{' is a literal '{', and {ITEM...} and {CHECKPOINT_DIR} take lookup(name).
 * lookup returns undefined when the item has no such field; those names are reported.
 */
export function fillTemplate(
  text: string,
  lookup: (name: string) => string | undefined,
): { text: string; missing: string[] } {
  const itemRe = new RegExp(`^${PLACEHOLDER_SOURCE}`);
  let out = '';
  const missing: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== '{') {
      out += c;
      i++;
      continue;
    }
    if (text[i + 1] === '{') {
      out += '{';
      i += 2;
      continue;
    }
    const m = itemRe.exec(text.slice(i));
    if (m && isLatePlaceholder(m[1]!)) {
      const v = lookup(m[1]!);
      if (v === undefined) missing.push(m[1]!);
      out += v ?? m[0];
      i += m[0].length;
      continue;
    }
    out += c; // cannot happen in an encoded text; kept literal rather than lost
    i++;
  }
  return { text: out, missing };
}

/**
 * The text of an item field for {ITEM} / {ITEM.a.b}: strings as they are, numbers and
 * booleans as String(), objects and arrays as JSON; undefined when the field is missing
 * or null (the caller reports it).
 */
export function itemField(item: unknown, name: string): string | undefined {
  let v: unknown = item;
  for (const key of name.split('.').slice(1)) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}
