// The chaos run in its CI form: seeded trials of real processes (brain, agents, workers killed
// at random, and the brain killed between file operations). Part of `npm run test:long`, which
// CI runs after `npm test`: these trials take minutes, and what they check is tasks lost and
// duplicate runs, never speed, so their deadlines are generous for a loaded 2-core machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execa } from 'execa';

const root = join(import.meta.dirname, '../..');

test('npm run chaos -- --trials 2 --seed 1 passes and prints every figure', { timeout: 900_000 }, async () => {
  const r = await execa(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts', '--trials', '2', '--seed', '1', '--deadline-s', '300'], { cwd: root, reject: false });
  const out = String(r.stdout);
  assert.match(out, /^trials: 2$/m);
  assert.match(out, /^kills: brain \d+, agent \d+, worker \d+, task \d+$/m);
  assert.match(out, /^garbage files: \d+/m);
  assert.match(out, /^tasks checked: [1-9]\d*$/m);
  assert.match(out, /^tasks lost: \d+$/m);
  assert.match(out, /^unexplained duplicate runs: \d+$/m);
  assert.match(out, /^longest recovery: \d+\.\d s/m);
  assert.equal(r.exitCode, 0, `chaos failed:\n${out}\n${String(r.stderr)}`);
  assert.match(out, /^tasks lost: 0$/m);
  assert.match(out, /^unexplained duplicate runs: 0$/m);
  assert.match(out, /^PASS$/m);
});

test('npm run chaos -- --brain-ops: every life of the brain killed at a file operation, one further each time; nothing lost or run twice', { timeout: 900_000 }, async () => {
  const r = await execa(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts', '--trials', '1', '--seed', '1', '--brain-ops', '--deadline-s', '400'], { cwd: root, reject: false });
  const out = String(r.stdout);
  assert.equal(r.exitCode, 0, `chaos --brain-ops failed:\n${out}\n${String(r.stderr)}`);
  const m = /^brain kills at a file operation: (\d+) \(each life killed just before its j-th commit; deepest j (\d+)\)$/m.exec(out);
  assert.ok(m, `the op kills are reported:\n${out}`);
  // Life j dies at its j-th commit: a run with k kills reached j = k.
  assert.ok(Number(m[1]) >= 5, `at least 5 brain lives killed, got ${m[1]}`);
  assert.equal(m[2], m[1]);
  assert.match(out, /^tasks lost: 0$/m);
  assert.match(out, /^unexplained duplicate runs: 0$/m);
});

