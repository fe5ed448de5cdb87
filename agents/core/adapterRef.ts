// Model names that may carry a LoRA adapter version: `qwen2.5:7b#support:v2` is the base
// `qwen2.5:7b` with version v2 of the adapter `support`; a bare `qwen2.5:7b` means "the
// adapter current for this base, if any" (adapters/current.json). Pure.
//
// Why `#`: it appears in no part of an Ollama model name (host, namespace, model, tag and
// digest are letters, digits, `_`, `-`, `.` and `:`), while `@` already introduces Ollama's
// digest (`model:tag@sha256:...`) and `+` its build suffix in older releases: a name with `#`
// can never be a model Ollama has, and every name without one means what it always meant.

/** What separates the base from the adapter and the adapter from its version. */
export const ADAPTER_MARK = '#';

/** An adapter's or a version's name: it becomes a folder name and part of an Ollama tag. */
export const ADAPTER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface AdapterVersion {
  adapter: string;
  version: string;
}

export interface ModelRef {
  /** The base model, e.g. qwen2.5:7b. */
  base: string;
  /** An adapter version named in the ref itself; null: the current one for the base, if any. */
  pinned: AdapterVersion | null;
}

export type RefParse = { ok: true; ref: ModelRef } | { ok: false; problem: string };

const EXAMPLE = 'e.g. qwen2.5:7b or qwen2.5:7b#support:v2';

/** Reads `base` or `base#adapter:version`; the problem says what is wrong and shows the form. */
export function parseModelRef(text: string): RefParse {
  const at = text.indexOf(ADAPTER_MARK);
  if (at < 0) return text.trim() ? { ok: true, ref: { base: text, pinned: null } } : { ok: false, problem: `a model name is empty; ${EXAMPLE}` };
  const base = text.slice(0, at);
  const rest = text.slice(at + 1);
  const bad = (why: string): RefParse => ({ ok: false, problem: `'${text}': ${why}; write BASE#ADAPTER:VERSION, ${EXAMPLE}` });
  if (!base.trim()) return bad('no base model before #');
  if (rest.includes(ADAPTER_MARK)) return bad('more than one #');
  const colon = rest.indexOf(':');
  if (colon < 0) return bad(`no version after the adapter '${rest}'`);
  const adapter = rest.slice(0, colon);
  const version = rest.slice(colon + 1);
  if (!ADAPTER_NAME.test(adapter)) return bad(`adapter name '${adapter}' must be letters, digits, '_', '.' or '-' (at most 64, starting with a letter or digit)`);
  if (!ADAPTER_NAME.test(version)) return bad(`version '${version}' must be letters, digits, '_', '.' or '-' (at most 64, starting with a letter or digit)`);
  return { ok: true, ref: { base, pinned: { adapter, version } } };
}

/** The text of a ref: `base` or `base#adapter:version`. */
export function formatModelRef(base: string, pinned: AdapterVersion | null): string {
  return pinned ? `${base}${ADAPTER_MARK}${pinned.adapter}:${pinned.version}` : base;
}

/** A base name as Ollama compares it: `m` is `m:latest`. */
export function normalizeBase(base: string): string {
  const slash = base.lastIndexOf('/');
  return base.slice(slash + 1).includes(':') ? base : `${base}:latest`;
}

/** The base of a model name (the name itself when it names no adapter version). */
export function baseOf(model: string): string {
  const at = model.indexOf(ADAPTER_MARK);
  return at < 0 ? model : model.slice(0, at);
}

/** Two model names that ask for the same thing: the same base (as Ollama compares it) and the same pinned version, or none. */
export function sameModelRef(a: string, b: string): boolean {
  const split = (m: string) => {
    const at = m.indexOf(ADAPTER_MARK);
    return at < 0 ? [normalizeBase(m), ''] : [normalizeBase(m.slice(0, at)), m.slice(at)];
  };
  const [ab, ap] = split(a);
  const [bb, bp] = split(b);
  return ab === bb && ap === bp;
}

/** The longest tag Ollama accepts. */
const MAX_TAG = 80;

/**
 * The name the runtime knows a base with an adapter version by: the base's tag extended with
 * the adapter and version (`qwen2.5:7b` + support v3 → `qwen2.5:7b-support-v3`), a valid Ollama
 * name. A tag that would pass Ollama's 80 characters is cut and ends with a hash of the whole.
 */
export function servedModelName(base: string, v: AdapterVersion): string {
  const full = normalizeBase(base);
  const colon = full.lastIndexOf(':');
  const name = full.slice(0, colon);
  let tag = `${full.slice(colon + 1)}-${v.adapter}-${v.version}`;
  if (tag.length > MAX_TAG) tag = `${tag.slice(0, MAX_TAG - 9)}-${shortHash(tag)}`;
  return `${name}:${tag}`;
}

/** 8 hex digits of FNV-1a: a stable short name, not a secret. */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * A base model's folder name under adapters/: every character outside letters, digits, `.`,
 * `_` and `-` written as %XX (`qwen2.5:7b` → `qwen2.5%3A7b`), so two bases never share a
 * folder and none can leave adapters/.
 */
export function baseFolderName(base: string): string {
  const out = [...normalizeBase(base)].map((c) => (/[A-Za-z0-9._-]/.test(c) ? c : [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''))).join('');
  // '.' and '..' alone are not folder names of their own.
  return out === '.' || out === '..' ? out.replace(/\./g, '%2E') : out;
}
