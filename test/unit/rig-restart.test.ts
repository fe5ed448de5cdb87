// The launcher's restart rule per kind of child, and what it does and says when one ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildExit, decideExit } from '../../agents/rig/decideExit.ts';
import { DEFAULT_RESTART, RUNTIME_RESTART, decideRestart } from '../../agents/rig/restartPolicy.ts';
import type { ChildSpec } from '../../agents/rig/roles.ts';

test('restarts with doubling backoff, at most 3 times in 10 minutes, then stays down', () => {
  const now = 1_000_000;
  assert.deepEqual(decideRestart([], now), { restart: true, delayMs: 1000, n: 1, max: 3 });
  assert.deepEqual(decideRestart([now - 5000], now), { restart: true, delayMs: 2000, n: 2, max: 3 });
  assert.deepEqual(decideRestart([now - 9000, now - 5000], now), { restart: true, delayMs: 4000, n: 3, max: 3 });
  const v = decideRestart([now - 9000, now - 5000, now - 1000], now);
  assert.equal(v.restart, false);
  assert.match(v.restart === false ? v.reason : '', /died 4 times within 10 minutes/);
  // Restarts older than the window no longer count.
  assert.equal(decideRestart([now - 11 * 60_000, now - 5000, now - 1000], now).restart, true);
});

test('an LLM server: 10 restarts in 10 minutes, 1 s doubling, capped at 60 s', () => {
  const now = 10_000_000;
  const delays: number[] = [];
  const history: number[] = [];
  for (;;) {
    const v = decideRestart(history, now, RUNTIME_RESTART);
    if (!v.restart) {
      assert.equal(v.reason, 'died 11 times within 10 minutes; restarted 10 times already');
      break;
    }
    assert.equal(v.max, 10);
    delays.push(v.delayMs);
    history.push(now - 1000);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000]);
  assert.equal(DEFAULT_RESTART.max, 3);
});

const runtime: ChildSpec = {
  name: 'runtime-1', kind: 'runtime', gpu: 1, listen: { host: '127.0.0.1', port: 8081 },
  program: { type: 'exec', file: 'llama-server', args: ['-m', '/models/a b.gguf', '--port', '8081'], env: { CUDA_VISIBLE_DEVICES: '1' }, source: 'gpus.1.serve.argv' },
};
const agent: ChildSpec = { name: 'gpu-1', kind: 'agent', gpu: 1, listen: null, program: { type: 'node', entry: 'gpu/main', args: [] } };
const died = (over: Partial<ChildExit>): ChildExit => ({ exitCode: 1, signal: undefined, spawnError: undefined, stderrTail: [], ...over });
const NOW = 50_000_000;

test('a server that dies is restarted; the line names its GPU, how it ended and the end of its stderr', () => {
  const a = decideExit(runtime, died({ stderrTail: ['main: loading model', 'error: couldn\'t bind HTTP server socket, hostname: 127.0.0.1, port: 8081', ''] }), [], NOW, false);
  assert.deepEqual(a, {
    do: 'restart',
    delayMs: 1000,
    reason: "runtime-1 (GPU 1's LLM server) died (exit 1); restart 1 of 10 in 1000 ms; its stderr ended: main: loading model | error: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8081",
    log: "runtime-1 (GPU 1's LLM server) died (exit 1); restarting in 1000 ms (restart 1 of 10 in 10 minutes)",
  });
  // Killed, or ended with exit 0 on its own: a server the agent lacks either way.
  assert.match((decideExit(runtime, died({ exitCode: undefined, signal: 'SIGKILL' }), [], NOW, false) as { reason: string }).reason, /^runtime-1 \(GPU 1's LLM server\) died \(signal SIGKILL\); restart 1 of 10 in 1000 ms$/);
  assert.equal(decideExit(runtime, died({ exitCode: 0 }), [], NOW, false).do, 'restart');
  // Exit 3 is our daemons' "refused"; for a server it is just an exit code.
  assert.equal(decideExit(runtime, died({ exitCode: 3 }), [], NOW, false).do, 'restart');
});

test('a server that died too often stays down, and says so with its stderr', () => {
  const history = Array.from({ length: 10 }, (_, i) => NOW - 1000 * (i + 1));
  assert.deepEqual(decideExit(runtime, died({ stderrTail: ['CUDA error: out of memory'] }), history, NOW, false), {
    do: 'give_up',
    reason: "runtime-1 (GPU 1's LLM server) DIED (exit 1) and STAYS DOWN: died 11 times within 10 minutes; restarted 10 times already. Fix the cause, then restart the rig; its stderr ended: CUDA error: out of memory",
  });
});

test('a server whose executable is missing is reported once, with the GPU, the config field and the command, and not restarted', () => {
  assert.deepEqual(decideExit(runtime, died({ exitCode: undefined, spawnError: 'ENOENT' }), [], NOW, false), {
    do: 'give_up',
    reason: `runtime-1 (GPU 1's LLM server) CANNOT START: executable "llama-server" not found on PATH (ENOENT); install it, or write its full path as gpus.1.serve.argv[0]. Command (from gpus.1.serve.argv): llama-server -m "/models/a b.gguf" --port 8081. Not restarted: fix the config, then restart the rig.`,
  });
  const ollama: ChildSpec = { ...runtime, program: { type: 'exec', file: '/opt/ollama/bin/ollama', args: ['serve'], env: {}, source: 'the Ollama default (gpus.1.serve is null)' } };
  const r = decideExit(ollama, died({ exitCode: undefined, spawnError: 'EACCES' }), [], NOW, false);
  assert.equal(r.do, 'give_up');
  assert.match((r as { reason: string }).reason, /"\/opt\/ollama\/bin\/ollama" is not executable by this user \(EACCES\); check its mode and owner, or give its command in serve\.argv\. Command \(from the Ollama default \(gpus\.1\.serve is null\)\): \/opt\/ollama\/bin\/ollama serve/);
});

test('agents and the brain keep their rule: 3 restarts, exit 0 is a stop, exit 3 a refusal; nothing while the rig stops', () => {
  assert.match((decideExit(agent, died({ exitCode: undefined, signal: 'SIGKILL' }), [], NOW, false) as { reason: string }).reason, /^gpu-1 died \(signal SIGKILL\); restart 1 of 3 in 1000 ms$/);
  assert.deepEqual(decideExit(agent, died({ exitCode: 0 }), [], NOW, false), { do: 'note', log: 'gpu-1 exited by itself (exit 0); not restarted' });
  assert.match((decideExit(agent, died({ exitCode: 3 }), [], NOW, false) as { reason: string }).reason, /gpu-1 refused to start .*not restarted/);
  assert.equal(decideExit(agent, died({}), [NOW - 3000, NOW - 2000, NOW - 1000], NOW, false).do, 'give_up');
  assert.deepEqual(decideExit(runtime, died({ exitCode: undefined, signal: 'SIGTERM' }), [], NOW, true), { do: 'nothing' });
});
