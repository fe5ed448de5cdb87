import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaRuntime } from '../../agents/llm/ollamaRuntime.ts';

test('OllamaRuntime.sameModel: a name without a tag is :latest; tags otherwise differ', () => {
  const rt = new OllamaRuntime('http://127.0.0.1:1');
  const cases: Array<[string, string, boolean]> = [
    ['qwen2.5:7b', 'qwen2.5:7b', true],
    ['llama3', 'llama3:latest', true],
    ['llama3:latest', 'llama3', true],
    ['qwen2.5:7b', 'qwen2.5:14b', false],
    ['qwen2.5', 'qwen2.5:7b', false],
  ];
  for (const [a, b, same] of cases) assert.equal(rt.sameModel(a, b), same, `${a} vs ${b}`);
});
