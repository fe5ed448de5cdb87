// What the simulated model answers: deterministic text (a function of model, system and
// prompt), JSON that fits a requested schema, and the request fields Ollama reads
// (model names, keep_alive). Pure.
import { createHash } from 'node:crypto';
import { HttpError } from './ollamaHttp.ts';

const DEFAULT_KEEP_ALIVE_MS = 5 * 60_000;

export function normalizeModel(m: string): string {
  return m.includes(':') ? m : `${m}:latest`;
}

/** keep_alive as Ollama reads it: a number is seconds, a string a Go duration ("5m", "1h30m", "-1"); negative means forever. */
export function parseKeepAlive(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return DEFAULT_KEEP_ALIVE_MS;
  if (typeof value === 'number') return value < 0 ? null : value * 1000;
  const text = String(value).trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text) < 0 ? null : Number(text) * 1000;
  if (text.startsWith('-')) return null;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let matched = '';
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (units[m[2] ?? 's'] ?? 1000);
    matched += m[0];
  }
  if (matched !== text) throw new HttpError(400, `time: invalid duration "${text}"`);
  return total;
}

export function hashOf(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

/** The deterministic answer text: what the model was asked, and a stable hash of it. */
export function simAnswerText(model: string, prompt: string, system = ''): string {
  const head = prompt.replace(/\s+/g, ' ').trim().slice(0, 60);
  return `sim(${model}): ${head} [${hashOf(model, system, prompt).slice(0, 12)}]`;
}

/**
 * A JSON value that fits a simple JSON Schema (type, properties, items, enum), filled from
 * the seed: the same request always gets the same value.
 */
export function fillSchema(schema: unknown, seed: string, key = 'value', depth = 0): unknown {
  const s = (schema && typeof schema === 'object' ? schema : {}) as Record<string, unknown>;
  const h = hashOf(seed, key);
  const n = parseInt(h.slice(0, 8), 16);
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[n % s.enum.length];
  if ('const' in s) return s.const;
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') ?? 'null' : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = (s.properties && typeof s.properties === 'object' ? s.properties : {}) as Record<string, unknown>;
      for (const [k, sub] of Object.entries(props)) out[k] = fillSchema(sub, seed, `${key}.${k}`, depth + 1);
      return out;
    }
    case 'array': {
      const count = depth > 4 ? 0 : 2;
      return Array.from({ length: count }, (_, i) => fillSchema(s.items, seed, `${key}[${i}]`, depth + 1));
    }
    case 'integer':
      return n % 100;
    case 'number':
      return (n % 10_000) / 100;
    case 'boolean':
      return n % 2 === 0;
    case 'null':
      return null;
    default:
      return `${key.split('.').pop()?.replace(/\[\d+\]$/, '') ?? 'value'}-${h.slice(0, 6)}`;
  }
}

/** The same shape with every leaf of the wrong type: a model ignoring the schema. */
function misfitSchema(schema: unknown, seed: string): unknown {
  const s = (schema && typeof schema === 'object' ? schema : {}) as Record<string, unknown>;
  if (s.type === 'object') {
    const out: Record<string, unknown> = {};
    const props = (s.properties && typeof s.properties === 'object' ? s.properties : {}) as Record<string, unknown>;
    for (const [k, sub] of Object.entries(props)) out[k] = misfitSchema(sub, seed);
    return out;
  }
  if (s.type === 'array') return 'not-an-array';
  if (s.type === 'string') return 12345;
  return 'not-a-number';
}

/**
 * The answer to a request, as Ollama's model would give it:
 * - format 'json' or a schema: JSON (fitting the schema) unless the prompt says BROKEN_JSON
 *   (then cut-off JSON) or SCHEMA_MISMATCH (then valid JSON of the wrong types);
 * - no format: simAnswerText.
 */
export function simAnswer(model: string, prompt: string, system: string, format: unknown, answerTokens = 0): string {
  const text = simAnswerText(model, prompt, system);
  if (format === undefined || format === null || format === '') return padAnswer(text, answerTokens, hashOf(model, system, prompt));
  const seed = hashOf(model, system, prompt);
  if (prompt.includes('BROKEN_JSON')) return `{"answer": "${text.replace(/"/g, "'")}", "items": [1, 2`;
  if (format === 'json' || typeof format !== 'object') return JSON.stringify({ answer: text });
  if (prompt.includes('SCHEMA_MISMATCH')) return JSON.stringify(misfitSchema(format, seed));
  return JSON.stringify(fillSchema(format, seed));
}

/** Tokens as Ollama would count them, roughly: one per four characters. */
export function tokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

const FILLER = ['rain', 'falls', 'on', 'the', 'quiet', 'roofs', 'of', 'a', 'small', 'town', 'while', 'clouds', 'drift', 'east'];

/**
 * A plain answer lengthened with words chosen by the seed to about `answerTokens` tokens: a
 * real model answers in a few hundred tokens, and generation time (tokens / tok_s) is what
 * parallel cards save. The answer's head is unchanged.
 */
export function padAnswer(text: string, answerTokens: number, seed: string): string {
  let out = text;
  for (let i = 0; tokens(out) < answerTokens; i++) out += ` ${FILLER[parseInt(seed.slice(i % 56, (i % 56) + 8), 16) % FILLER.length]}`;
  return out;
}
