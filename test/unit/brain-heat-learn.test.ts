import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config } from '../../agents/core/config.ts';
import { BatchRecord } from '../../agents/core/batch.ts';
import { applyEstimates, learnFrom, type Estimates } from '../../agents/brain/learn.ts';
import { decideBatch } from '../../agents/brain/decide.ts';
import { judgeScore } from '../../agents/brain/evaluate.ts';
import { parseRigTaskId } from '../../agents/brain/heatManager.ts';
import { makeTask } from '../helpers/mount.ts';


test('learning: a measured peak becomes the next batch\'s estimate; the largest peak of a batch wins', () => {
  const e: Estimates = {};
  const item = (batch: string, peak: number) => makeTask({ batch, plan: 'video', name: 'transcribe.1', template: 'transcribe', task_class: 'script', vram_estimate_mb: 1024, result: { task_id: `${batch}__transcribe.1`, attempt: 1, outcome: 'success', failure_kind: null, exit_code: 0, signal: null, reason: null, started_at: 'x', finished_at: 'x', duration_ms: 1, stdout_path: null, stderr_path: null, peak_vram_mb: peak } });
  assert.deepEqual(learnFrom(e, item('b1', 600), 't'), { key: 'video/transcribe', peak: 600, before: null });
  assert.equal(learnFrom(e, item('b1', 500), 't'), null);
  assert.equal(learnFrom(e, item('b1', 700), 't')?.peak, 700);
  const next = [makeTask({ batch: 'b2', plan: 'video', name: 'transcribe', task_class: 'script', vram_estimate_mb: 1024 })];
  assert.deepEqual(applyEstimates(e, next), ['transcribe 1024→700 MB']);
  assert.equal(next[0]!.vram_estimate_mb, 700);
});

test('a script task that can never fit any GPU fails at once instead of waiting forever', () => {
  const config = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });
  const t = makeTask({ task_class: 'script', vram_estimate_mb: 9000 });
  const batch = BatchRecord.parse({ id: 'b1', plan: 'p', plan_dir: '/', batch_path: '/', state: 'running', values: {}, submitted_at: 'x', started_at: 'x', finished_at: null, task_ids: [t.id] });
  const acts = decideBatch(batch, new Map([[t.id, { folder: 'private', task: t }]]), new Set(), config, 4915);
  assert.deepEqual(acts, [{ kind: 'unschedulable', id: t.id, reason: 'needs 9000 MB of VRAM but the largest GPU budget is 4915 MB; it can never run here' }]);
  assert.equal(decideBatch(batch, new Map([[t.id, { folder: 'private', task: t }]]), new Set(), config, null)[0]?.kind, 'release', 'unknown GPUs: not judged yet');
});

test('the brain model only judges: a score below the bar requeues while attempts remain', () => {
  const t = makeTask({ type: 'generate', task_class: 'llm', max_attempts: 3 });
  assert.deepEqual(judgeScore({ score: 2, reason: 'off topic' }, t, 3), { score: 2, reason: 'off topic', requeue: true });
  assert.deepEqual(judgeScore({ score: 4, reason: 'fine' }, t, 3), { score: 4, reason: 'fine', requeue: false });
  assert.equal(judgeScore({ score: 9 }, t, 3), null);
  assert.equal(judgeScore('five', t, 3), null);
});

test('rig meta task ids carry their type and agent', () => {
  assert.deepEqual(parseRigTaskId('rig__load_llm.gpu-1.1795682908227'), { type: 'load_llm', agent: 'gpu-1' });
  assert.equal(parseRigTaskId('b1__load_llm'), null);
});
