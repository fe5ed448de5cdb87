// A real rig's managed LLM servers, end to end: `npm run rig` without --simulate on a config
// whose GPUs have "manage": true and a serve command. The command runs the project's Ollama
// simulator through node, so the path is exactly a real rig's (an executable from serve.argv,
// placeholders filled, its own process group, restarts) with only the server swapped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { type ConfigInput, writeConfig } from '../../agents/core/config.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import type { Task } from '../../agents/core/task.ts';
import { SIM_SANDBOX, initSimState, isPidAlive, simNvidiaSmiPath } from '../../agents/sim/simState.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { writePlan } from '../helpers/rig.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SIMULATOR = `${root}agents/sim/ollama-main.ts`;

const ASK = '# Ask\n\n## Goal\nOne answer.\n\n## Tasks\n\n### write\n- **type**: generate\n- **prompt**: Write one line about rain.\n';

/** The simulator as a managed server's command. */
function simulatorServe(paths: MountPaths): { argv: string[]; env: Record<string, string> } {
  return { argv: [process.execPath, '--import', 'tsx', SIMULATOR, '--port', '{port}', '--gpu', '{gpu}', '--sim-dir', paths.sim, '--load-delay-ms', '50'], env: {} };
}

/** A real config (no --simulate): simulated nvidia-smi, short cycles, the given GPUs. */
async function writeManagedConfig(paths: MountPaths, gpus: ConfigInput['gpus']): Promise<void> {
  await initSimState(paths.sim, gpus.length);
  await writeConfig(paths.config, {
    gpus,
    nvidia_smi: simNvidiaSmiPath(),
    worker_env: { FORGE_SIM_DIR: paths.sim },
    sandbox: SIM_SANDBOX,
    cycles: { internal_s: 0.2, external_s: 0.5 },
    timeouts: { heartbeat_stale_s: 5 },
    llm_circuit: { cool_down_s: 1, max_cool_down_s: 2 },
    heat_dwell_s: 0,
  });
}

/** The rig as a person starts it, with its stderr collected for the test to read. */
function startManagedRig(paths: MountPaths): { rig: ResultPromise; stderr: () => string } {
  const rig = execa(process.execPath, [`${root}bin/forge`, 'rig', '--shared', paths.root], { reject: false, stdin: 'ignore', stdout: 'ignore', buffer: false, cleanup: true, cwd: root });
  let text = '';
  rig.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  return { rig, stderr: () => text };
}

/** Every pid the launcher said it started a GPU's server with, in order. */
function runtimePids(stderr: string, gpu: number): number[] {
  return [...stderr.matchAll(new RegExp(`runtime-${gpu} \\(GPU ${gpu}'s LLM server\\) started, pid (\\d+)`, 'g'))].map((m) => Number(m[1]));
}

/** One GET of the server's root, 5 s at most: the test process's first fetch also loads undici, which can take seconds on a loaded 2-core machine. */
async function answers(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    return r.ok && (await r.text()) === 'Ollama is running';
  } catch {
    return false;
  }
}

test('a managed server: started before its agent, serves a generate task, restarted after kill -9, stopped with the rig', async () => {
  const { paths, cleanup } = await tempMount();
  const port = await freePortRange(1);
  await writeManagedConfig(paths, [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port, manage: true, serve: simulatorServe(paths) }]);
  await writePlan(paths, 'ask', ASK);
  const { rig, stderr } = startManagedRig(paths);
  try {
    await waitForAgents(paths, [0], 60_000);
    const [first] = runtimePids(stderr(), 0);
    assert.ok(first, `the launcher names the server's pid:\n${stderr()}`);
    // The launcher started the agent only once the server listened; a loaded machine may still be slow to answer.
    await waitFor('the server answering on the GPU port', () => answers(port), 30_000);
    assert.match(await decisionText(paths), /rig +START — runtime-0, brain, gpu-0 on /);

    const batch = await submitPlan(paths.root, 'ask');
    const rec = await waitForBatchEnd(paths, batch, 90_000);
    assert.equal(rec.state, 'complete', `batch ended ${rec.state}:\n${stderr()}`);
    assert.equal((await readHeartbeat(paths, 0))?.llm_circuit, 'closed');

    process.kill(first, 'SIGKILL');
    await waitFor('a RESTART line for runtime-0', async () => /rig +RESTART — runtime-0 \(GPU 0's LLM server\) died \(signal SIGKILL\); restart 1 of 10 in 1000 ms/.test(await decisionText(paths)), 30_000);
    const second = await waitFor('the server started again', async () => runtimePids(stderr(), 0)[1], 30_000);
    assert.notEqual(second, first);
    await waitFor('the server answering again on its port', () => answers(port), 30_000);

    rig.kill('SIGTERM');
    const r = await rig;
    assert.equal(r.exitCode, 0);
    assert.equal(isPidAlive(second), false, 'the server is gone after the rig stopped');
    assert.equal(await answers(port), false);
    assert.match(await decisionText(paths), /rig +STOPPED — all 3 processes stopped/);
  } finally {
    rig.kill('SIGKILL');
    await rig;
    await cleanup();
  }
});

test('a server that cannot bind its port is named with its stderr and restarted; a missing executable is reported once, not restarted', async () => {
  const { paths, cleanup } = await tempMount();
  const port = await freePortRange(3);
  // GPU 0's server is told to bind a port that something else (here: any listener) holds,
  // not its GPU's port: the rig finds the GPU's port free at start (a taken one refuses the
  // start: test/e2e/rig-ports.test.ts), and the server fails to bind once started.
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(port + 2, '127.0.0.1', resolve));
  const serve0 = simulatorServe(paths);
  serve0.argv[serve0.argv.indexOf('{port}')] = String(port + 2);
  await writeManagedConfig(paths, [
    { id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port, manage: true, serve: serve0 },
    { id: 1, name: 'gpu-1', model: 'qwen2.5:7b', port: port + 1, manage: true, runtime: 'openai', serve: { argv: ['forge-test-no-such-server', '--port', '{port}'], env: {} } },
  ]);
  const { rig, stderr } = startManagedRig(paths);
  try {
    const restart2 = /rig +RESTART — runtime-0 \(GPU 0's LLM server\) died \(exit 1\); restart 2 of 10 in 2000 ms; its stderr ended: .*EADDRINUSE/;
    const log = await waitFor('two RESTART lines for runtime-0 with its stderr', async () => {
      const text = await decisionText(paths);
      return restart2.test(text) ? text : null;
    }, 60_000);
    assert.match(log, /rig +RESTART — runtime-0 \(GPU 0's LLM server\) died \(exit 1\); restart 1 of 10 in 1000 ms; its stderr ended: ollama-main: Error: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+/);
    // By the second restart of runtime-0, a loop of runtime-1 would have shown.
    const missing = log.split('\n').filter((l) => /rig +(RESTART|GIVE_UP) — runtime-1/.test(l));
    assert.equal(missing.length, 1, missing.join('\n'));
    assert.match(missing[0]!, /rig +GIVE_UP — runtime-1 \(GPU 1's LLM server\) CANNOT START: executable "forge-test-no-such-server" not found on PATH \(ENOENT\); install it, or write its full path as gpus\.1\.serve\.argv\[0\]\. Command \(from gpus\.1\.serve\.argv\): forge-test-no-such-server --port \d+\./);
    assert.equal(stderr().split('\n').filter((l) => l.startsWith('!!! runtime-1')).length, 1, stderr());
  } finally {
    rig.kill('SIGTERM');
    await rig;
    holder.close();
    await cleanup();
  }
});

test('a server killed mid-task: the agent goes cold, the task returns as an infra failure, the server is restarted, and the task completes', async () => {
  const { paths, cleanup } = await tempMount();
  const port = await freePortRange(1);
  // 4 tokens a second: the answer takes seconds, so the kill lands while the request runs.
  const serve = simulatorServe(paths);
  serve.argv.push('--tok-s', '4');
  await writeManagedConfig(paths, [{ id: 0, name: 'gpu-0', model: 'qwen2.5:7b', port, manage: true, serve }]);
  await writePlan(paths, 'ask', ASK);
  const { rig, stderr } = startManagedRig(paths);
  try {
    await waitForAgents(paths, [0], 60_000);
    const [first] = runtimePids(stderr(), 0);
    const batch = await submitPlan(paths.root, 'ask');
    const id = `${batch}__write`;
    // The request is running: the task is in processing/ and the server serves one request.
    await waitFor('the generate request running', async () => {
      const r = await fetch(`http://127.0.0.1:${port}/sim/stats`).then((x) => x.json() as Promise<{ active: number }>).catch(() => null);
      return r && r.active > 0;
    }, 60_000);
    process.kill(first!, 'SIGKILL');
    await waitFor('the agent cold', async () => /gpu-0 +COLD/.test(await decisionText(paths)), 30_000);
    const rec = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(rec.state, 'complete', `batch ended ${rec.state}:\n${stderr()}`);
    const log = await decisionText(paths);
    assert.match(log, /rig +RESTART — runtime-0 \(GPU 0's LLM server\) died \(signal SIGKILL\)/);
    // The lost attempt failed as infra (not the task's fault), and the retry completed.
    const archived = JSON.parse(await readFile(join(paths.tasks, 'archive', batch, `${id}.json`), 'utf8')) as Task;
    assert.ok(archived.attempts.length >= 2, JSON.stringify(archived.attempts));
    assert.equal(archived.attempts[0]!.failure_kind, 'infra', JSON.stringify(archived.attempts[0]));
    assert.equal(archived.attempts.at(-1)!.outcome, 'success');
    assert.equal(archived.result?.outcome, 'success');
    assert.ok(runtimePids(stderr(), 0).length >= 2, 'the server was started again');
  } finally {
    rig.kill('SIGTERM');
    await rig;
    await cleanup();
  }
});
