// Every number in config.json is bounded, and a value out of range is refused with the field,
// the allowed range and the value found: a 3e6 s cycle used to overflow Node's timer into a
// 1 ms busy loop, and a heartbeat_stale_s under two external cycles had live agents presumed
// dead over and over. The rig refuses such a config at start (exit 1), before anything runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { defaultGpus, parseConfig } from '../../agents/core/config.ts';
import { UserInputError } from '../../agents/core/errors.ts';
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

test('a misspelled config key is refused by rig and doctor, and shown by status, with the key, the closest match and the allowed keys', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    // `cycles.internl_s` would otherwise be dropped and the 5 s default used without a word.
    await writeFile(paths.config, JSON.stringify({ gpus: defaultGpus(1), cycles: { internl_s: 1 } }));
    const want = /config\.json: cycles\.internl_s: unknown key \(did you mean 'internal_s'\?\); allowed here: internal_s, external_s/;
    for (const script of ['agents/rig/main.ts', 'scripts/status.ts', 'scripts/doctor.ts']) {
      const r = await execa(process.execPath, ['--import', 'tsx', join(ROOT, script), '--shared', paths.root], { cwd: ROOT, reject: false, timeout: 60_000 });
      // status is one look at the rig: it shows the config's problem on its second line and the rest of what it sees.
      if (script === 'scripts/status.ts') assert.equal(r.exitCode, 0);
      else assert.notEqual(r.exitCode, 0, `${script} refused the config`);
      assert.match(`${String(r.stdout)}\n${String(r.stderr)}`, want, script);
    }
  } finally {
    await cleanup();
  }
});
