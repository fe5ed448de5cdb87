// forge submit --dry-run end to end: one real run of the video plan on a simulated rig teaches
// the brain the plan's profile; the dry run of the same plan then predicts that run's wall time
// (within 30 %) and its peak VRAM per GPU (within 10 %), and writes nothing to the mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink, lstat, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Task } from '../../agents/core/task.ts';
import { submitPlan, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { tempMount } from '../helpers/mount.ts';
import { forge, startAgent, startBrain, stopAll, writeTestConfig } from '../helpers/rig.ts';

const VIDEO = join(import.meta.dirname, '../../plans/video');

/** Every name, kind, mode, time and byte under dir: equal before and after only if nothing was written. */
async function hashTree(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await lstat(p);
      h.update(`${rel}/${name}\0${st.mode}\0${st.mtimeMs}\0${st.size}\0`);
      if (st.isDirectory()) await walk(p, `${rel}/${name}`);
      else if (st.isSymbolicLink()) h.update(await readlink(p));
      else if (st.isFile()) h.update(await readFile(p));
    }
  };
  await walk(dir, '');
  return h.digest('hex');
}

/**
 * Peak VRAM per GPU of a finished batch, as a user means it: the most GPU memory the batch's
 * tasks held at once on each card, from each task's measured peak (peak_vram_mb, what
 * nvidia-smi showed for its processes) over the time it ran on that card. Sorted, largest first.
 */
function peakPerGpu(tasks: Task[]): number[] {
  const byGpu = new Map<string, Array<[number, number]>>();
  for (const t of tasks) {
    const r = t.result;
    if (!t.claimed_by || !r || !r.peak_vram_mb) continue;
    const ev = byGpu.get(t.claimed_by) ?? [];
    ev.push([Date.parse(r.started_at), r.peak_vram_mb], [Date.parse(r.finished_at), -r.peak_vram_mb]);
    byGpu.set(t.claimed_by, ev);
  }
  return [...byGpu.values()].map((ev) => {
    let now = 0;
    let peak = 0;
    for (const [, mb] of ev.sort((a, b) => a[0] - b[0] || a[1] - b[1])) peak = Math.max(peak, (now += mb));
    return peak;
  }).sort((a, b) => b - a);
}

test('dry run of the video plan after one real run: wall time within 30 %, peak VRAM per GPU within 10 %, nothing written', { timeout: 90_000 }, async (t) => {
  const { paths, cleanup } = await tempMount();
  let procs: ReturnType<typeof startBrain>[] = [];
  try {
    // Two cards of two workers each: the four items run two per card, side by side.
    await writeTestConfig(paths, 2, { resource_limits: { max_workers: 2 } });
    procs = [startBrain(paths), startAgent(paths, 0), startAgent(paths, 1)];
    await waitForAgents(paths, [0, 1], 30_000);
    // 2.5 s per item: long enough for the agents to measure each item's memory under a loaded CPU.
    const inputs = { COUNT: 4, WORK_MS: 2500 };
    const batch = await submitPlan(paths.root, VIDEO, inputs);
    const rec = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(rec.state, 'complete');
    await stopAll(procs);
    procs = [];

    const archived = join(paths.root, 'tasks', 'archive', batch);
    const tasks = await Promise.all((await readdir(archived)).map(async (n) => Task.parse(JSON.parse(await readFile(join(archived, n), 'utf8')))));
    const wallMs = Date.parse(rec.finished_at!) - Date.parse(rec.started_at!);
    const items = tasks.filter((t) => t.template === 'transcribe');
    assert.deepEqual(items.map((t) => t.result?.peak_vram_mb), [600, 600, 600, 600], 'the agents measured every item (600 MB each, SIM_VRAM_MB)');
    const peaks = peakPerGpu(tasks);

    const before = await hashTree(paths.root);
    const r = await forge('submit', 'video', '--dry-run', '--json', '--shared', paths.root, '--config', JSON.stringify(inputs));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await hashTree(paths.root), before, 'the dry run wrote nothing to the mount');

    const dry = JSON.parse(r.stdout);
    assert.equal(dry.dry_run, true);
    assert.deepEqual(dry.tasks.map((t: { name: string; depends_on: string[] }) => [t.name, t.depends_on]), [['scan', []], ['transcribe', ['scan']], ['aggregate', ['transcribe']], ['batch_summary', ['scan', 'transcribe', 'aggregate']]]);
    assert.deepEqual(dry.tasks[1].foreach, { manifest: '{BATCH_PATH}/manifest.json:videos', items: 4, counted_as: 4, note: `4 items, as in batch ${batch}` });
    assert.deepEqual(dry.prediction.no_history, []);
    assert.deepEqual(dry.model_loads, []);
    assert.deepEqual(dry.needs_approval, []);

    const predicted = dry.prediction.wall_ms;
    t.diagnostic(`wall time: predicted ${predicted} ms, ran ${wallMs} ms; peak VRAM per GPU: predicted ${JSON.stringify(dry.prediction.gpus.map((g: { peak_vram_mb: number }) => g.peak_vram_mb))} MB, ran ${JSON.stringify(peaks)} MB`);
    assert.ok(Math.abs(predicted - wallMs) <= 0.3 * wallMs, `predicted wall time ${predicted} ms, the run took ${wallMs} ms`);
    // Which card takes which item is a race between the agents: the cards are compared largest first.
    const predictedPeaks = dry.prediction.gpus.map((g: { peak_vram_mb: number }) => g.peak_vram_mb).sort((a: number, b: number) => b - a);
    assert.equal(predictedPeaks.length, 2);
    assert.equal(peaks.length, 2, `both cards ran items: ${JSON.stringify(peaks)}`);
    peaks.forEach((real, i) => assert.ok(Math.abs(predictedPeaks[i] - real) <= 0.1 * real, `GPU peak ${i + 1}: predicted ${predictedPeaks[i]} MB, the run held ${real} MB (all: ${JSON.stringify(peaks)})`));
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});

const BAD_PLAN = `# Bad

## Tasks

### a
- **task_class**: gpu
- **command**: \`node -e "1"\`
`;

test('dry run: a plan with problems prints them and exits 1 having written nothing; --priority and --json go with it; --help says what it does', { timeout: 60_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  const dir = await mkdtemp(join(tmpdir(), 'forge-dry-plan-'));
  try {
    await writeTestConfig(paths, 1);
    await mkdir(join(dir, 'bad'));
    await writeFile(join(dir, 'bad', 'plan.md'), BAD_PLAN);
    const before = await hashTree(paths.root);
    const bad = await forge('submit', join(dir, 'bad'), '--dry-run', '--shared', paths.root);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /plan\.md:6: task 'a': unknown task_class 'gpu'/);
    assert.match(bad.stderr, /submit: 1 problem; nothing was submitted \(dry run\)/);
    assert.equal(bad.stdout, '');
    const ok = await forge('submit', VIDEO, '--dry-run', '--priority', '2', '--shared', paths.root);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^dry run of plan video: nothing was submitted and nothing was written$/m);
    assert.match(ok.stdout, /foreach \{BATCH_PATH\}\/manifest\.json:videos: unknown until scan runs; counted as 1 item/);
    assert.match(ok.stdout, /no history for scan, transcribe, aggregate: counted as 0 s each/);
    assert.match(ok.stdout, /gpu-0: no heartbeat on the mount/);
    assert.equal(await hashTree(paths.root), before, 'no plan copy, no inbox file, no folder');
    const help = await forge('submit', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--dry-run +check the plan and print what the batch would do, submitting and writing\n +nothing/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await cleanup();
  }
});
