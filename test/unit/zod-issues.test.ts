// Schema problems in words (core/zodIssues.ts): the field, what was expected, what was found,
// the allowed values; unknown keys with the closest allowed key. Exact text: these are what a
// person reads when a config, a submission or a task file is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as z from '../../agents/core/zod.ts';
import { allowedKeysAt, checkSchema, formatZodIssues, joinProblems } from '../../agents/core/zodIssues.ts';
import { Config, defaultGpus } from '../../agents/core/config.ts';
import { parseJsonText } from '../../agents/core/mountJson.ts';

const Shape = z.strictObject({
  list: z.array(z.number()),
  mode: z._default(z.enum(['auto', 'require', 'off']), 'auto'),
  user: z.optional(z.union([z.string(), z.number()])),
  count: z.optional(z.number().check(z.int(), z.gte(0))),
  name: z.optional(z.string().check(z.minLength(1))),
  timeout_s: z.optional(z.number().check(z.positive())),
  inner: z.prefault(z.strictObject({ internal_s: z._default(z.number(), 5), external_s: z._default(z.number(), 30) }), {}),
  named: z.optional(z.string().check(z.refine((s) => s === 'ok', { message: 'must be ok' }))),
});

function problems(raw: unknown, where?: string): string[] {
  const r = checkSchema(Shape, raw, where);
  return r.ok ? [] : r.problems;
}

test('each kind of problem names the field, what was expected and what was found', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{}, 'list: missing; expected a list'],
    [{ list: 'x' }, 'list: expected a list, found "x"'],
    [{ list: [1, 'two'] }, 'list.1: expected a number, found "two"'],
    [{ list: [], mode: 'sometimes' }, 'mode: must be one of auto, require, off; found "sometimes"'],
    [{ list: [], user: true }, 'user: expected a string or a number, found true'],
    [{ list: [], count: 2.5 }, 'count: expected a whole number, found 2.5'],
    [{ list: [], count: -1 }, 'count: must be at least 0; found -1'],
    [{ list: [], timeout_s: 0 }, 'timeout_s: must be more than 0; found 0'],
    [{ list: [], name: '' }, 'name: must not be empty; found 0 characters'],
    [{ list: [], inner: { internal_s: 'x' } }, 'inner.internal_s: expected a number, found "x"'],
    [{ list: [], inner: [] }, 'inner: expected an object, found a list'],
    [{ list: [], named: 'no' }, 'named: must be ok'],
  ];
  for (const [raw, want] of cases) assert.deepEqual(problems(raw), [want], JSON.stringify(raw));
  assert.deepEqual(checkSchema(Shape, null), { ok: false, problems: ['expected an object, found null'] });
});

test('unknown keys come first, one line each, with the closest allowed key and the allowed keys', () => {
  assert.deepEqual(problems({ lst: [], inner: { internal: 1, zzz: 2 } }, 'f.json'), [
    "f.json: inner.internal: unknown key (did you mean 'internal_s'?); allowed here: internal_s, external_s",
    'f.json: inner.zzz: unknown key; allowed here: internal_s, external_s',
    "f.json: lst: unknown key (did you mean 'list'?); allowed here: list, mode, user, count, name, timeout_s, inner, named",
    'f.json: list: missing; expected a list',
  ]);
});

test('the config: a misplaced top-level key, a cycles key without its unit, a misspelled key in a GPU entry', () => {
  const r = checkSchema(Config, { gpu: defaultGpus(1), cycles: { internal: 1 } }, 'config.json');
  assert.equal(r.ok, false);
  const text = r.ok ? '' : r.problems.join('\n');
  assert.match(text, /^config\.json: cycles\.internal: unknown key \(did you mean 'internal_s'\?\); allowed here: internal_s, external_s, doorbell_s$/m);
  assert.match(text, /^config\.json: gpu: unknown key \(did you mean 'gpus'\?\); allowed here: gpus, resource_limits, cycles, /m);
  assert.match(text, /^config\.json: gpus: missing; expected a list with one entry per GPU, e\.g\. \[/m);
  const gpu = checkSchema(Config, { gpus: [{ id: 0, name: 'gpu-0', modle: 'm', port: 11435 }] }, 'config.json');
  assert.deepEqual(gpu.ok ? [] : gpu.problems, [
    "config.json: gpus.0.modle: unknown key (did you mean 'model'?); allowed here: id, name, model, port, runtime, num_parallel, manage, serve",
    'config.json: gpus.0.model: missing; expected a string',
  ]);
  assert.deepEqual(allowedKeysAt(Config, ['brain_llm']), ['model', 'port', 'min_score'], 'through nullable and default');
});

test('a schema error made elsewhere is formatted the same way, without the path where there is none', () => {
  const r = z.object({ a: z.number() }).safeParse([]);
  assert.deepEqual(formatZodIssues(r.error!.issues, { where: 'x' }), ['x: Invalid input: expected object, received array']);
  assert.equal(joinProblems(['a', 'b', 'c'], 2), 'a; b; ... 1 more');
});

test('JSON text: not JSON, and JSON that is not the record, each in words', () => {
  const bad = parseJsonText('{"list": [', Shape, 'a shape record');
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.problem, /^not valid JSON: .* \(expected a shape record\)$/);
  assert.deepEqual(parseJsonText('{"list": 1}', Shape, 'a shape record'), {
    ok: false, why: 'invalid', problem: 'not a shape record: list: expected a list, found 1', problems: ['list: expected a list, found 1'],
  });
});
