// Hot/cold in simulation: cold agents take script work, the brain heats one agent for the llm
// work and cools it afterwards, and an agent driven over its temperature limit backs off to
// meta/cpu and comes back; all in the decision log and the heartbeats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultGpus } from '../../agents/core/config.ts';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { Task } from '../../agents/core/task.ts';
import { freePortRange } from '../../tools/harness/ports.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { startSimOllama } from '../../agents/sim/ollamaServer.ts';
import { setGpuOverrides } from '../../agents/sim/simState.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const SCRIPT = `import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
const dir = process.env.FORGE_SIM_DIR;
const f = dir + '/procs/' + process.pid + '.json';
if (dir) { mkdirSync(dir + '/procs', { recursive: true }); writeFileSync(f, JSON.stringify({ pid: process.pid, gpu_index: Number(process.env.CUDA_VISIBLE_DEVICES), used_mb: 900, name: 'python3' })); }
await new Promise((r) => setTimeout(r, Number(process.argv[2])));
if (dir) rmSync(f, { force: true });
`;

const scriptTask = (name: string, deps: string | null) =>
  `### ${name}\n- **task_class**: script\n- **command**: \`node scripts/work.mjs 700\`\n- **vram_estimate_mb**: 1024\n` + (deps ? `- **depends_on**: ${deps}\n` : '');

const PLAN = `# Mixed\n\n## Goal\nScript, llm and cpu work.\n\n## Tasks\n\n` +
  [scriptTask('prep1', null), scriptTask('prep2', null), scriptTask('prep3', null)].join('\n') +
  `\n### write\n- **type**: generate\n- **prompt**: Write one line about rain.\n- **depends_on**: prep1, prep2, prep3\n` +
  `\n### extract\n- **type**: generate\n- **prompt**: Write one line about snow.\n- **depends_on**: prep1\n\n` +
  [scriptTask('post1', 'write, extract'), scriptTask('post2', 'write, extract'), scriptTask('post3', 'write, extract'), scriptTask('post4', 'write, extract')].join('\n') +
  `\n### report\n- **task_class**: cpu\n- **command**: \`node -e "process.exit(0)"\`\n- **depends_on**: post1, post2, post3, post4\n`;

test('mixed plan: cold agents run scripts, the brain heats one agent for llm work and cools it after; an overheated agent backs off and returns', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  const servers = [];
  try {
    const base = await freePortRange(2);
    await writeTestConfig(paths, 2, { gpus: defaultGpus(2, base), heat_dwell_s: 0.5 });
    for (const g of [0, 1]) servers.push(await startSimOllama({ port: base + g, gpuIndex: g, simDir: paths.sim, loadDelayMs: 300 }));
    await writePlan(paths, 'mixed', PLAN, { 'work.mjs': SCRIPT });
    procs.push(startBrain(paths), startAgent(paths, 0), startAgent(paths, 1));
    await waitForAgents(paths, [0, 1], 30_000);

    // Drive gpu-1 over its temperature limit for a while.
    await setGpuOverrides(paths.sim, 1, { temperature_c: 91 });
    const hot = await waitFor('gpu-1 constrained', async () => {
      const hb = await readHeartbeat(paths, 1);
      return hb?.health === 'constrained' ? hb : null;
    }, 20_000);
    assert.deepEqual(hot.accepts, ['meta', 'cpu']);
    assert.deepEqual(hot.health_reasons, ['temperature 91C >= 85C']);

    const batch = await submitPlan(paths.root, 'mixed');
    await waitFor('some prep work done on gpu-0', async () => (await decisionText(paths)).includes('HEAT'), 60_000);
    await setGpuOverrides(paths.sim, 1, { temperature_c: null });
    await waitFor('gpu-1 healthy again', async () => (await readHeartbeat(paths, 1))?.health === 'healthy', 20_000);

    const rec = await waitForBatchEnd(paths, batch, 120_000);
    assert.equal(rec.state, 'complete');
    const log = await decisionText(paths);
    if (process.env.SHOW_LOG) process.stderr.write(log);
    const lines = log.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/gpu-1 +CONSTRAINED — temperature 91C >= 85C/) >= 0);
    const constrained = at(/gpu-1 +CONSTRAINED/);
    assert.ok(lines.slice(constrained).some((l) => /gpu-1 +HEALTHY/.test(l)), 'gpu-1 came back');
    const heat = at(/brain +HEAT task=rig__load_llm\.gpu-\d/);
    const cool = at(/brain +COOL task=rig__unload_llm\.gpu-\d\.\d+ — gpu-\d: only script work remains/);
    assert.ok(heat >= 0, 'the brain heated an agent');
    assert.ok(at(/gpu-\d +HOT — qwen2.5:7b resident/) > heat);
    assert.ok(cool > heat, 'and cooled it once only script work remained');
    // Scripts ran on cold cards; the llm work ran on the hot one.
    const dir = join(paths.tasks, 'archive', batch);
    const tasks = await Promise.all((await readdir(dir)).map(async (n) => Task.parse(JSON.parse(await readFile(join(dir, n), 'utf8')))));
    const by = new Map(tasks.map((t) => [t.name, t]));
    const heated = /HEAT task=rig__load_llm\.(gpu-\d)/.exec(lines[heat]!)![1];
    assert.equal(by.get('write')!.claimed_by, heated);
    assert.equal(by.get('extract')!.claimed_by, heated);
    assert.equal(by.get('prep1')!.claimed_by, 'gpu-0', 'gpu-1 was constrained: script work went to gpu-0');
    // Each llm output was written, and prompts/responses logged as training samples: each
    // worker left one in logs/spool/samples/, appended by the brain within a second or so.
    const samples = await waitFor('both training samples merged', async () => {
      const got = (await readFile(paths.trainingSamples, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      return got.length >= 2 && (await readdir(paths.spoolSamples)).length === 0 ? got.map((l) => JSON.parse(l)) : null;
    }, 10_000);
    assert.equal(samples.length, 2);
  } finally {
    await stopAll(procs);
    for (const s of servers) await s.close();
    await cleanup();
  }
});

test('a crashed Ollama on an agent\'s port is detected: the agent goes cold, opens its LLM circuit and says why', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    const base = await freePortRange(1);
    await writeTestConfig(paths, 1, { gpus: defaultGpus(1, base), cycles: { internal_s: 0.25, external_s: 0.25 } });
    const server = await startSimOllama({ port: base, gpuIndex: 0, simDir: paths.sim });
    procs.push(startAgent(paths, 0));
    await waitForAgents(paths, [0], 30_000);
    const { OllamaRuntime } = await import('../../agents/llm/ollamaRuntime.ts');
    await new OllamaRuntime(server.url).load('qwen2.5:7b');
    await waitFor('agent hot', async () => (await readHeartbeat(paths, 0))?.state === 'hot', 20_000);
    await server.close();
    const hb = await waitFor('agent cold with an open circuit', async () => {
      const h = await readHeartbeat(paths, 0);
      if (process.env.SHOW_LOG) process.stderr.write(`${h?.state} ${h?.llm_circuit} ${h?.llm_reason}\n`);
      return h && h.state === 'cold' && h.llm_circuit === 'open' ? h : null;
    }, 30_000, 1000);
    assert.match(hb.llm_reason ?? '', /unreachable|ECONNREFUSED/);
    assert.ok(!hb.accepts.includes('llm'), 'no llm work while the runtime is down');
    const log = await decisionText(paths);
    assert.match(log, /gpu-0 +COLD — qwen2.5:7b not loaded/);
    assert.match(log, /gpu-0 +LLM_OPEN — /);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
