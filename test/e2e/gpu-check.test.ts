// npm run gpu-check end to end in its simulated mode: the real command, a real rig (brain and
// one agent, started without --simulate from the config the check writes), real workers, the
// project's nvidia-smi simulator and the simulated workload. No GPU needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { GpuCheckReport } from '../../tools/gpucheck/report.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const gpuCheck = (args: string[]) =>
  execa(process.execPath, ['--import', 'tsx', join(root, 'scripts/gpu-check.ts'), ...args], { cwd: root, reject: false, timeout: 90_000 });

test('gpu-check --simulate: measures each task against nvidia-smi and sees constrained -> healthy', { timeout: 100_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'forge-gpu-check-test-'));
  try {
    const r = await gpuCheck(['--simulate', '--sizes', '512,1024', '--seconds', '3', '--json', '--out', out]);
    assert.ok(r.exitCode === 0 || r.exitCode === 1, `exit 0 (PASS) or 1 (FAIL), got ${r.exitCode}:\n${r.stderr}`);
    const report = JSON.parse(String(r.stdout)) as GpuCheckReport;
    assert.deepEqual(JSON.parse(await readFile(join(out, 'report.json'), 'utf8')), report);
    const text = await readFile(join(out, 'report.txt'), 'utf8');
    assert.match(text, /^(PASS|FAIL): /m);
    assert.match(text, /Per-task GPU memory/);

    assert.equal(report.mode, 'simulated');
    assert.equal(report.batch.state, 'complete');
    assert.ok(report.samples >= 8, `sampled about every 0.5 s (${report.samples} samples)`);
    // The thresholds were chosen from the idle simulated card (0 MiB, 8 W of a 120 W limit).
    assert.equal(report.thresholds.max_vram_percent, 5); // ceil(100 * 256 / 6144)
    assert.equal(report.thresholds.max_power_w, 42);

    // nvidia-smi's figure for each task's process: what it allocated plus the 300 MiB stand-in context.
    assert.deepEqual(
      report.memory.map((m) => [m.task, m.outcome, m.script_requested_mb, m.smi_peak_mb]),
      [['alloc-1', 'success', 512, 812], ['alloc-2', 'success', 1024, 1324]],
    );
    for (const m of report.memory) {
      assert.equal(m.worker_pids.length, 1, `${m.task}: one worker`);
      assert.equal(m.gpu_pids.length, 1, `${m.task}: one GPU process, a child of the worker`);
      assert.notEqual(m.gpu_pids[0], m.worker_pids[0]);
    }

    // Health: constrained under the load, healthy again after it, in heartbeats and in the log.
    for (const source of [report.health.heartbeat, report.health.log]) {
      const path = source.map((x) => x.to);
      assert.ok(path.includes('constrained'), `constrained seen: ${path.join(' -> ')}`);
      assert.equal(path[path.length - 1], 'healthy');
    }
    assert.equal(report.health.constrained_to_healthy, true);
    assert.ok((report.gpu_max.memory_used_mb ?? 0) >= 812);

    // The agent's own figure (peak_vram_mb) agrees with nvidia-smi's.
    assert.equal(report.verdict, 'PASS', report.verdict_reasons.join('\n'));
    for (const m of report.memory) {
      assert.ok(m.within, `${m.task}: agent ${m.agent_peak_mb} MiB, nvidia-smi ${m.smi_peak_mb} MiB`);
      assert.equal(m.agent_peak_mb, m.smi_peak_mb);
    }
    assert.equal(r.exitCode, 0);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('gpu-check without a GPU (no nvidia-smi) and without --simulate says so and exits 2', async () => {
  const r = await gpuCheck(['--nvidia-smi', '/nonexistent/nvidia-smi']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /cannot run the check here: --nvidia-smi \/nonexistent\/nvidia-smi: no executable file there/);
  assert.equal(String(r.stdout), '');
});

test('gpu-check refuses a bad option with the option and the expected form, exit 2', async () => {
  const r = await gpuCheck(['--simulate', '--sizes', '512,lots']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /--sizes 512,lots: give 1 to 8 whole numbers of MiB separated by commas, e.g. --sizes 6144,13312/);
});
