// A load the brain queued is not queued again while it is between two renames: an agent's
// claim and its result record each take the task under a temporary name for a moment, and a
// scan then sees it in no folder (TaskStore.claimRecorded, replace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { Config } from '../../agents/core/config.ts';
import { ManualClock } from '../../agents/core/clock.ts';
import { DecisionLog } from '../../agents/core/decisionLog.ts';
import type { Heartbeat } from '../../agents/core/heartbeat.ts';
import type { TaskFolder } from '../../agents/core/paths.ts';
import { TaskStore } from '../../agents/core/store.ts';
import type { TaskView } from '../../agents/brain/decide.ts';
import { HeatManager } from '../../agents/brain/heatManager.ts';
import type { AgentWatcher } from '../../agents/brain/watchAgents.ts';
import { OpenMeta } from '../../agents/brain/openMeta.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const cold = {
  gpu_id: 0, name: 'gpu-0', state: 'cold', model_loaded: false, last_updated: 'x', temperature_c: 50, power_draw_w: 60,
  vram_used_mb: 0, vram_total_mb: 10_000, vram_percent: 0, gpu_util_percent: 0, clock_mhz: 1900, throttle_status: 'None',
  claimed_vram_mb: 0, budget_available_mb: 8000, active_workers: 0, active_tasks: [], stats: { tasks_completed: 0, tasks_failed: 0 },
  seq: 1, pid: 1, started_at: 'x', health: 'healthy', health_reasons: [], accepts: [], llm_circuit: 'closed', llm_reason: null,
  host: null, stopping: false, hostname: null, model: null, model_mb: 0, runtime: 'ollama', num_parallel: 1, swappable: true, load_ms: {}, running_llm: 0,
} as Heartbeat;

test('OpenMeta: open while queued, running or briefly unseen; closed once seen finished or unseen past the grace', () => {
  const open = new OpenMeta(3000);
  open.queued('rig__load_llm.gpu-0.1', 0);
  assert.deepEqual(open.update(new Map(), 100), ['rig__load_llm.gpu-0.1'], 'queued by this brain, not listed yet');
  assert.deepEqual(open.update(new Map([['rig__load_llm.gpu-0.1', 'processing']]), 1000), ['rig__load_llm.gpu-0.1']);
  assert.deepEqual(open.update(new Map(), 3900), ['rig__load_llm.gpu-0.1'], 'unseen 2.9 s after it was last seen running');
  assert.deepEqual(open.update(new Map(), 4100), [], 'unseen for over the grace: lost');
  open.queued('rig__load_llm.gpu-0.2', 5000);
  assert.deepEqual(open.update(new Map([['rig__load_llm.gpu-0.2', 'complete']]), 5100), []);
  assert.deepEqual(open.update(new Map(), 5200), [], 'archived after it was seen complete: not open again');
  const earlier = new Map<string, TaskFolder>([['rig__unload_llm.gpu-1.7', 'queue']]);
  assert.deepEqual(open.update(earlier, 6000), ['rig__unload_llm.gpu-1.7'], 'one queued by an earlier life of the brain');
});

test('HeatManager: a load taken under a temporary name is not queued again; once lost for three external cycles it is', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }], heat_dwell_s: 1, cycles: { internal_s: 0.25, external_s: 1 } });
    const clock = new ManualClock();
    const store = new TaskStore(paths);
    const heat = new HeatManager({ paths, config, clock, store, log: DecisionLog.spool(paths, 'brain-test', () => clock.now()) });
    const watcher = { aliveBeats: () => [cold] } as unknown as AgentWatcher;
    const llm = makeTask({ batch: 'b1', name: 'q1', type: 'generate', task_class: 'llm', command: null, argv: null, prompt: 'hi', model: 'm' });
    const tasks = new Map<string, TaskView>([[llm.id, { folder: 'queue', task: llm }]]);
    const queued = async () => (await readdir(paths.folders.queue)).filter((n) => n.startsWith('rig__load_llm'));
    const rigTasks = async () => new Map<string, TaskFolder>((await queued()).map((n) => [n.replace(/\.json$/, ''), 'queue']));

    await heat.step(tasks, await rigTasks(), watcher);
    const [first] = await queued();
    assert.ok(first, 'the cold card is heated for the queued llm task');
    // An agent takes it: for a moment it is in no folder the scan lists.
    await rename(join(paths.folders.queue, first), join(paths.folders.processing, `.${first}.4242.abcd.taken.tmp`));
    for (const ms of [1500, 1000]) {
      clock.advance(ms);
      await heat.step(tasks, await rigTasks(), watcher);
      assert.deepEqual(await queued(), [], `${ms} ms later: no second load of the same model`);
    }
    clock.advance(1000); // 3.5 s unseen: over three external cycles, taken as lost
    await heat.step(tasks, await rigTasks(), watcher);
    assert.equal((await queued()).length, 1, 'heated again once the first load is lost');
  } finally {
    await cleanup();
  }
});
