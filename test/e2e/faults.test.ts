// Faults with real processes: a frozen agent presumed dead, its late result kept aside; an
// agent killed and restarted cleans up its previous life's worker at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readHeartbeat } from '../../agents/core/heartbeat.ts';
import { isTempName } from '../../agents/core/atomic.ts';
import { submitPlan, waitFor, waitForAgents, waitForBatchEnd } from '../../tools/harness/runRig.ts';
import { decisionText, tempMount } from '../helpers/mount.ts';
import { startAgent, startBrain, stopAll, writePlan, writeTestConfig } from '../helpers/rig.ts';

const PLAN = `# Slow first\n\n## Goal\nThe first attempt is slow.\n\n## Tasks\n\n### only\n- **task_class**: cpu\n- **command**: \`node scripts/slow.mjs {BATCH_PATH}\`\n`;
const SLOW = (ms: number) => `import { writeFileSync } from 'node:fs';
writeFileSync(process.argv[2] + '/attempt' + process.env.FORGE_ATTEMPT + '.pid', String(process.pid));
if (process.env.FORGE_ATTEMPT === '1') await new Promise((r) => setTimeout(r, ${ms}));
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string;
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);

test('a frozen agent is presumed dead: its task is retried elsewhere, and its late result is kept aside, not applied', async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  let frozen: number | null = null;
  try {
    await writeTestConfig(paths, 2, { timeouts: { heartbeat_stale_s: 2 } });
    await writePlan(paths, 'slow', PLAN, { 'slow.mjs': SLOW(4000) });
    const agents = [startAgent(paths, 0), startAgent(paths, 1)];
    procs.push(startBrain(paths), ...agents);
    await waitForAgents(paths, [0, 1], 30_000);
    const batch = await submitPlan(paths.root, 'slow');
    const id = `${batch}__only`;
    const holder = await waitFor('task claimed', async () => {
      for (const g of [0, 1]) {
        const hb = await readHeartbeat(paths, g);
        if (hb?.active_tasks.some((t) => t.task_id === id && t.pid)) return hb;
      }
      return null;
    }, 30_000);
    frozen = holder.pid;
    process.kill(frozen, 'SIGSTOP');
    const rec = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(rec.state, 'complete');
    process.kill(frozen, 'SIGCONT');
    frozen = null;
    const late = await waitFor('late result', async () => {
      const names = (await readdir(join(paths.tasks, 'late_results')).catch(() => [] as string[])).filter((n) => !isTempName(n));
      return names.length ? names : null;
    }, 30_000);
    assert.match(late[0]!, new RegExp(`^${id}\\.attempt1\\.${holder.name}\\.json$`));
    const t = JSON.parse(await readFile(join(paths.tasks, 'archive', batch, `${id}.json`), 'utf8'));
    assert.deepEqual(t.attempts.map((a: { outcome: string }) => a.outcome), ['lost', 'success']);
    assert.equal(t.result.outcome, 'success');
    // The agent writes the late result's file first and its LATE_RESULT line just after.
    const lateLine = /LATE_RESULT task=\S+ — attempt 1 finished \(success\), but the task (holds another claim now|left processing\/ before the result was recorded)/;
    const log = await waitFor('the LATE_RESULT line', async () => {
      const text = await decisionText(paths);
      return lateLine.test(text) ? text : null;
    }, 10_000).catch(() => decisionText(paths));
    assert.match(log, new RegExp(`AGENT_DEAD — ${holder.name}: heartbeat seq \\d+ has not advanced`));
    assert.match(log, lateLine);
  } finally {
    if (frozen) process.kill(frozen, 'SIGCONT');
    await stopAll(procs);
    await cleanup();
  }
});

for (const preboot of [false, true]) {
test(`an agent killed and restarted: its orphaned task is ended (${preboot ? 'a spare worker ends it when its agent\'s pipe closes' : 'the new agent kills it'}) and the task returned at once`, async () => {
  const { paths, cleanup } = await tempMount();
  const procs = [];
  try {
    await writeTestConfig(paths, 1, { timeouts: { heartbeat_stale_s: 600 }, workers: { preboot } });
    await writePlan(paths, 'slow', PLAN, { 'slow.mjs': SLOW(120_000) });
    procs.push(startBrain(paths));
    const agent = startAgent(paths, 0);
    await waitForAgents(paths, [0], 30_000);
    const batch = await submitPlan(paths.root, 'slow');
    const rec0 = await waitFor('first attempt running', async () => {
      const dir = (await readdir(join(paths.plans, 'slow', 'batches')).catch(() => []))[0];
      if (!dir) return null;
      const pid = await readFile(join(paths.plans, 'slow', 'batches', dir, 'attempt1.pid'), 'utf8').catch(() => null);
      return pid ? { pid: Number(pid) } : null;
    }, 30_000);
    agent.kill('SIGKILL');
    await agent;
    if (preboot) {
      // The spare's stdin is the agent's pipe: closed by the kernel when the agent dies, and the worker ends its task.
      await waitFor('the task ended by its worker', async () => !alive(rec0.pid), 15_000);
    } else {
      assert.ok(alive(rec0.pid), 'the orphaned task process outlives its agent');
    }
    const started = Date.now();
    procs.push(startAgent(paths, 0));
    const rec = await waitForBatchEnd(paths, batch, 60_000);
    assert.equal(rec.state, 'complete');
    assert.ok(Date.now() - started < 60_000, 'returned long before the 600 s stale timeout');
    assert.equal(alive(rec0.pid), false, 'the orphan was killed (its GPU memory freed)');
    assert.match(await decisionText(paths), /gpu-0 +ORPHAN task=\S+ — returned: agent gpu-0 restarted/);
  } finally {
    await stopAll(procs);
    await cleanup();
  }
});
}
