// Schema problems in words, the one home for them: every file a person or another process
// writes (config, submission, task, record) is checked by checkSchema, and every problem reads
// `path: what was expected; what was found`. Unknown keys name the closest allowed key and list
// the allowed ones, so a misspelled key is never silently dropped for its default.
import * as z from './zod.ts';
import { suggest } from '../plan/suggest.ts';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

export type SchemaCheck<T> = { ok: true; value: T } | { ok: false; problems: string[] };

/** A value as it appears in a message: short JSON for scalars, its kind for lists and objects. */
export function foundWords(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (Array.isArray(input)) return 'a list';
  if (input !== null && typeof input === 'object') return 'an object';
  const text = typeof input === 'string' ? JSON.stringify(input) : String(input);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** zod's name of an expected type, in words. */
function typeWords(expected: string): string {
  const words: Record<string, string> = {
    array: 'a list', object: 'an object', record: 'an object', map: 'an object', number: 'a number', int: 'a whole number',
    string: 'a string', boolean: 'a boolean (true or false)', null: 'null', bigint: 'a whole number', date: 'a date',
  };
  return words[expected] ?? `a ${expected}`;
}

/** "at least 1" / "more than 0", with what is counted for lists and strings. */
function boundWords(iss: { origin?: string; inclusive?: boolean }, side: 'min' | 'max', bound: unknown): string {
  const n = Number(bound);
  const cmp = side === 'min' ? (iss.inclusive === false ? 'more than' : 'at least') : iss.inclusive === false ? 'less than' : 'at most';
  if (iss.origin === 'array' || iss.origin === 'set') return `must have ${cmp} ${n} ${n === 1 ? 'entry' : 'entries'}`;
  if (iss.origin === 'string') return side === 'min' && n === 1 && iss.inclusive !== false ? 'must not be empty' : `must be ${cmp} ${n} characters long`;
  return `must be ${cmp} ${String(bound)}`;
}

/** Whether every branch of a failed union failed only on its type at the union's own path. */
function unionTypes(errors: readonly (readonly Issue[])[]): string[] | null {
  const types: string[] = [];
  for (const branch of errors) {
    const [only] = branch;
    if (branch.length !== 1 || only?.code !== 'invalid_type' || only.path.length > 0) return null;
    types.push(typeWords(only.expected));
  }
  return types;
}

/**
 * The words for one issue, for zod's per-parse error map: used where the schema gives no
 * words of its own (a schema's own message, like config.ts's ranges, always wins).
 */
export function issueWords(iss: RawIssue): string | undefined {
  const input = iss.input;
  switch (iss.code) {
    case 'invalid_type':
      if (input === undefined) return `missing; expected ${typeWords(iss.expected)}`;
      return `expected ${typeWords(iss.expected)}, found ${foundWords(input)}`;
    case 'invalid_value':
      if (iss.values.length === 1) return `expected ${JSON.stringify(iss.values[0])}, found ${foundWords(input)}`;
      return `must be one of ${iss.values.map((v) => String(v)).join(', ')}; found ${foundWords(input)}`;
    case 'invalid_union': {
      const types = unionTypes(iss.errors);
      if (!types) return undefined;
      const list = types.length > 1 ? `${types.slice(0, -1).join(', ')} or ${types.at(-1)}` : types.join('');
      return input === undefined ? `missing; expected ${list}` : `expected ${list}, found ${foundWords(input)}`;
    }
    case 'too_small':
      return `${boundWords(iss, 'min', iss.minimum)}; found ${iss.origin === 'number' ? foundWords(input) : describeSize(input)}`;
    case 'too_big':
      return `${boundWords(iss, 'max', iss.maximum)}; found ${iss.origin === 'number' ? foundWords(input) : describeSize(input)}`;
    case 'invalid_format':
      return `must match ${iss.pattern ?? `the ${iss.format} format`}; found ${foundWords(input)}`;
    default:
      return undefined;
  }
}

function describeSize(input: unknown): string {
  if (Array.isArray(input)) return `${input.length} ${input.length === 1 ? 'entry' : 'entries'}`;
  if (typeof input === 'string') return `${input.length} characters`;
  return foundWords(input);
}

/** The keys an object schema at `path` inside `schema` allows, through defaults, nullables, arrays and records; [] when none is known. */
export function allowedKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  // zod 4 keeps a schema's parts in `def`: innerType (default, prefault, nullable, optional),
  // element (array), valueType (record), in (pipe), shape (object).
  type Def = { innerType?: unknown; element?: unknown; valueType?: unknown; in?: unknown; shape?: Record<string, unknown> };
  const defOf = (x: unknown): Def => ((x as { def?: Def } | undefined)?.def ?? {});
  const unwrap = (x: unknown): unknown => {
    let cur = x;
    for (let d = defOf(cur); d.innerType || d.in; d = defOf(cur)) cur = d.innerType ?? d.in;
    return cur;
  };
  let cur: unknown = unwrap(schema);
  for (const key of path) {
    const d = defOf(cur);
    cur = unwrap(typeof key === 'number' ? d.element : d.shape ? d.shape[String(key)] : d.valueType);
  }
  return Object.keys(defOf(cur).shape ?? {});
}

/**
 * Every issue as `where: path: message`, unknown keys first (a misspelled key is usually also
 * why a required one is missing), one line per unknown key with the closest allowed key and
 * the allowed keys when the schema is given. `where` and an empty path are left out when absent.
 */
export function formatZodIssues(issues: readonly Issue[], o: { schema?: z.core.$ZodType; where?: string } = {}): string[] {
  const lead = o.where ? `${o.where}: ` : '';
  const at = (path: readonly PropertyKey[]) => (path.length ? `${path.map(String).join('.')}: ` : '');
  const unknown = issues.filter((i) => i.code === 'unrecognized_keys');
  const rest = issues.filter((i) => i.code !== 'unrecognized_keys');
  const out: string[] = [];
  for (const issue of unknown) {
    const allowed = o.schema ? allowedKeysAt(o.schema, issue.path) : [];
    const tail = allowed.length ? `; allowed here: ${allowed.join(', ')}` : '';
    for (const key of issue.keys) out.push(`${lead}${at([...issue.path, key])}unknown key${suggest(key, allowed)}${tail}`);
  }
  for (const issue of rest) out.push(`${lead}${at(issue.path)}${issue.message}`);
  return out;
}

/** raw checked against schema: the value, or every problem in words (see formatZodIssues). */
export function checkSchema<T>(schema: z.core.$ZodType<T>, raw: unknown, where?: string): SchemaCheck<T> {
  const parsed = z.safeParse(schema, raw, { error: issueWords });
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, problems: formatZodIssues(parsed.error.issues, { schema, where }) };
}

/** Problems joined for a one-line reason, the first `limit` of them and a count of the rest. */
export function joinProblems(problems: readonly string[], limit = 5): string {
  const more = problems.length > limit ? `; ... ${problems.length - limit} more` : '';
  return problems.slice(0, limit).join('; ') + more;
}
