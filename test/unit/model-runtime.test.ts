import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OllamaRuntime } from '../../agents/llm/ollamaRuntime.ts';
import { OpenAiRuntime } from '../../agents/llm/openaiRuntime.ts';
import { parseRuntimeKind } from '../../agents/llm/runtimeFor.ts';

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

test('OpenAiRuntime.sameModel: names as given, or the same after Ollama\'s :latest rule', () => {
  const rt = new OpenAiRuntime('http://127.0.0.1:1');
  const cases: Array<[string, string, boolean]> = [
    ['Qwen2.5-7B-Instruct-Q4_K_M.gguf', 'Qwen2.5-7B-Instruct-Q4_K_M.gguf', true],
    ['qwen2.5:7b', 'qwen2.5:7b', true],
    ['llama3', 'llama3:latest', true],
    ['Qwen/Qwen2.5-7B-Instruct', 'qwen/qwen2.5-7b-instruct', false],
    ['qwen2.5:7b', 'qwen2.5:14b', false],
  ];
  for (const [a, b, same] of cases) assert.equal(rt.sameModel(a, b), same, `${a} vs ${b}`);
});

test('a runtime kind from text: ollama and openai, nothing else', () => {
  assert.equal(parseRuntimeKind('ollama'), 'ollama');
  assert.equal(parseRuntimeKind('openai'), 'openai');
  assert.equal(parseRuntimeKind('vllm'), null);
  assert.equal(parseRuntimeKind('OpenAI'), null);
});
