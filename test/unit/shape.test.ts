import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MAX_FUNCTION_LINES, longFunctions, shapeProblems } from '../../tools/shape/measure.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('agents/ (what runs on the rig) keeps its shape: files, functions, no devDependency', () => {
  const problems = shapeProblems(root).map((p) => `${p.file}:${p.line}: ${p.what}`);
  assert.deepEqual(problems, []);
});

test('agents/ holds no bench, chaos or gpu-check code: they are tools', () => {
  for (const dir of ['bench', 'chaos', 'gpucheck']) assert.equal(existsSync(`${root}agents/${dir}`), false, `agents/${dir} exists`);
});

test('the measure finds a long function, a long arrow and a long method, and names them', () => {
  const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  x += ${i};`).join('\n');
  const text = [
    `function longOne() {\n  let x = 0;\n${body}\n}`,
    `const arrow = () => {\n  let x = 0;\n${body}\n};`,
    `class C {\n  method() {\n    let x = 0;\n${body}\n  }\n  short() { return 1; }\n}`,
    'function shortOne() { return 2; }',
  ].join('\n');
  const found = longFunctions('x.ts', text).map((p) => p.what.split(' is ')[0]);
  assert.deepEqual(found, ['function longOne', 'function arrow', 'function method']);
});
