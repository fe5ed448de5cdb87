// Every number in config.json is bounded, and a value out of range is refused with the field,
// the allowed range and the value found: a 3e6 s cycle used to overflow Node's timer into a
// 1 ms busy loop, and a heartbeat_stale_s under two external cycles had live agents presumed
// dead over and over. The rig refuses such a config at start (exit 1), before anything runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultGpus, parseConfig } from '../../agents/core/config.ts';
import { UserInputError } from '../../agents/core/errors.ts';
import { readSubmission } from '../../agents/core/inbox.ts';
import { tempMount } from '../helpers/mount.ts';

const ROOT = join(import.meta.dirname, '../..');

function problems(over: Record<string, unknown>): string {
  try {
    parseConfig({ gpus: defaultGpus(1), ...over }, 'config.json');
    return '';
  } catch (err) {
    assert.ok(err instanceof UserInputError, String(err));
    return err.problems.join('\n');
  }
}

test('config numbers out of range are refused with the field, the range and the value', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ cycles: { internal_s: 3e6 } }, /cycles\.internal_s: must be between 0\.05 and 3600 s; found 3000000/],
    [{ cycles: { external_s: 0 } }, /cycles\.external_s: must be between 0\.1 and 3600 s; found 0/],
    [{ timeouts: { heartbeat_stale_s: -1 } }, /timeouts\.heartbeat_stale_s: must be between 1 and 86400 s; found -1/],
    [{ timeouts: { stuck_task_s: 1e12 } }, /timeouts\.stuck_task_s: must be between 1 and 2592000 s/],
    [{ retries: { max_attempts: 0 } }, /retries\.max_attempts: must be a whole number between 1 and 100 attempts; found 0/],
    [{ retries: { max_attempts: 2.5 } }, /retries\.max_attempts: must be a whole number between 1 and 100 attempts; found 2\.5/],
    [{ resource_limits: { max_workers: 100000 } }, /resource_limits\.max_workers: must be a whole number between 1 and 1024 workers/],
    [{ resource_limits: { max_temp_c: 'hot' } }, /resource_limits\.max_temp_c: must be between 1 and 150 °C; found "hot"/],
    [{ timeouts: { heartbeat_stale_s: 1 }, cycles: { external_s: 5 } }, /timeouts\.heartbeat_stale_s: must be at least 2 × cycles\.external_s \(10 s\)/],
  ];
  for (const [over, re] of cases) assert.match(problems(over), re, JSON.stringify(over));
  assert.equal(problems({}), '', 'the defaults are valid');
  assert.equal(problems({ cycles: { internal_s: 0.25, external_s: 1 }, timeouts: { heartbeat_stale_s: 2 } }), '', 'the tests\' short cycles are valid');
});

test('the brain and an agent refuse a config out of range: exit 1 with the field and range, nothing started', { timeout: 60_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeFile(paths.config, JSON.stringify({ gpus: defaultGpus(1), cycles: { internal_s: 3e6 } }));
    for (const [entry, args] of [['agents/brain/main.ts', []], ['agents/gpu/main.ts', ['--gpu', '0']]] as const) {
      const r = await execa(process.execPath, ['--import', 'tsx', join(ROOT, entry), '--shared', paths.root, ...args], { cwd: ROOT, reject: false, timeout: 30_000 });
      assert.equal(r.exitCode, 1, `${entry}: ${String(r.stderr)}`);
      assert.match(String(r.stderr), /cycles\.internal_s: must be between 0\.05 and 3600 s; found 3000000/);
    }
  } finally {
    await cleanup();
  }
});

test('a misspelled config key is refused by rig, status and doctor with the key, the closest match and the allowed keys', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    // `cycles.internl_s` would otherwise be dropped and the 5 s default used without a word.
    await writeFile(paths.config, JSON.stringify({ gpus: defaultGpus(1), cycles: { internl_s: 1 } }));
    const want = /config\.json: cycles\.internl_s: unknown key \(did you mean 'internal_s'\?\); allowed here: internal_s, external_s/;
    for (const script of ['rig', 'status', 'doctor']) {
      const r = await execa(process.execPath, [join(ROOT, 'bin/forge'), script, '--shared', paths.root], { cwd: ROOT, reject: false, timeout: 60_000 });
      // status still shows the rest of what it sees, but fails: the rig will not start with this config (changed on purpose: it exited 0).
      assert.notEqual(r.exitCode, 0, `${script} refused the config`);
      assert.match(`${String(r.stdout)}\n${String(r.stderr)}`, want, script);
    }
  } finally {
    await cleanup();
  }
});

test('keys in the wrong place: rig, status and doctor each refuse, name the key, the closest match and the allowed keys, and start nothing', { timeout: 180_000 }, async () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a cycles key without its unit', { gpus: defaultGpus(1), cycles: { internal: 1 } }, /cycles\.internal: unknown key \(did you mean 'internal_s'\?\); allowed here: internal_s, external_s, doorbell_s/],
    ['gpu for gpus', { gpu: defaultGpus(1) }, /config\.json: gpu: unknown key \(did you mean 'gpus'\?\); allowed here: gpus, resource_limits, cycles,[^\n]*\n[^\n]*gpus: missing; expected a list/],
    ['a misspelled key in a GPU entry', { gpus: [{ id: 0, name: 'gpu-0', modle: 'qwen2.5:7b', port: 11435 }] }, /gpus\.0\.modle: unknown key \(did you mean 'model'\?\); allowed here: id, name, model, port/],
  ];
  for (const [what, config, want] of cases) {
    const { paths, cleanup } = await tempMount();
    try {
      await writeFile(paths.config, JSON.stringify(config));
      for (const script of ['rig', 'status', 'doctor']) {
        const r = await execa(process.execPath, [join(ROOT, 'bin/forge'), script, '--shared', paths.root], { cwd: ROOT, reject: false, timeout: 60_000 });
        const out = `${String(r.stdout)}\n${String(r.stderr)}`.replaceAll('; ' + paths.config + ': ', '\n');
        assert.notEqual(r.exitCode, 0, `${what}: ${script} exited 0`);
        assert.match(out, want, `${what}: ${script}`);
      }
      // Nothing started: no brain took its lease, no agent wrote a heartbeat.
      assert.equal(await stat(paths.brainLock).then(() => true, () => false), false, `${what}: a brain started`);
      assert.deepEqual((await readdir(paths.gpus)).filter((n) => !n.startsWith('.')), [], `${what}: an agent started`);
    } finally {
      await cleanup();
    }
  }
});

test('an inbox submission with a misspelled key is refused with the key, the closest match and the allowed keys', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const file = join(paths.inbox, 'hand.json');
    await writeFile(file, JSON.stringify({ plan: 'demo', confg: { NAME: 'x' } }));
    const r = await readSubmission(file);
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? null : { error: r.error, torn: r.torn }, {
      error: `${file}: confg: unknown key (did you mean 'config'?); allowed here: plan, config, batch_id, submitted_at, priority, resume`,
      torn: false,
    });
    await writeFile(file, JSON.stringify({ plan: 7 }));
    const typed = await readSubmission(file);
    assert.equal(typed.ok ? '' : typed.error, `${file}: plan: expected a string, found 7`);
  } finally {
    await cleanup();
  }
});
