// How a field's value is read from the text its author wrote: backticks around the whole
// value, lists of task names, a foreach's `path:key`, whole numbers with a unit. Pure
// string functions shared by the input and task readers.

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

/** The whole number `re` captures first (its unit aside), or null when the value is absent or another shape. */
export function readInteger(value: string | undefined, re: RegExp): number | null {
  const m = value === undefined ? null : re.exec(value.trim());
  return m ? Number(m[1]) : null;
}

/** `true` or `false` (any case); null when the value is absent or anything else. */
export function readBoolean(value: string | undefined): boolean | null {
  const v = value?.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : null;
}
