// The real submit command, run as a person runs it, against a temporary mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { Submission } from '../../agents/core/inbox.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BATCH_ID = /^\d{8}-\d{6}-[0-9a-f]{6}$/;

function submit(args: string[], cwd = ROOT) {
  return execa(process.execPath, [join(ROOT, 'bin/forge'), 'submit', ...args], {
    cwd,
    reject: false,
    env: { RIG_SHARED: '/nonexistent/must-not-be-used' },
  });
}

async function withMount(fn: (shared: string) => Promise<void>): Promise<void> {
  const shared = await mkdtemp(join(tmpdir(), 'forge-submit-'));
  try {
    await fn(shared);
  } finally {
    await rm(shared, { recursive: true, force: true });
  }
}

/** Every path under dir, for "nothing was written" checks. */
async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

test('submit: a good plan is copied to the mount and its submission written; the last line is the batch id', () =>
  withMount(async (shared) => {
    const r = await submit(['plans/hello', '--shared', shared, '--config', '{"NAME": "Ada; rm -rf /", "TIMES": 2}']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trim().split('\n');
    const batchId = lines.at(-1)!;
    assert.match(batchId, BATCH_ID);

    const inbox = join(shared, 'brain', 'inbox', `${batchId}.json`);
    const sub = Submission.parse(JSON.parse(await readFile(inbox, 'utf8')));
    assert.equal(sub.plan, 'hello');
    assert.equal(sub.batch_id, batchId);
    assert.deepEqual(sub.config, { NAME: 'Ada; rm -rf /', TIMES: '2' });

    assert.equal(
      await readFile(join(shared, 'plans', 'hello', 'plan.md'), 'utf8'),
      await readFile(join(ROOT, 'plans', 'hello', 'plan.md'), 'utf8'),
    );
    for (const s of ['greet.mjs', 'count.mjs', 'report.mjs']) assert.ok((await stat(join(shared, 'plans', 'hello', 'scripts', s))).isFile());
    // The mount's folders exist and nothing temporary was left behind.
    for (const d of ['tasks/queue', 'tasks/processing', 'brain/private_tasks', 'signals', 'logs']) assert.ok((await stat(join(shared, d))).isDirectory(), d);
    assert.deepEqual((await listAll(shared)).filter((p) => p.split('/').some((part) => part.startsWith('.'))), []);

    // Now on the mount, the plan can be submitted by name.
    const again = await submit(['hello', '--shared', shared]);
    assert.equal(again.exitCode, 0, again.stderr);
    const second = again.stdout.trim().split('\n').at(-1)!;
    assert.match(second, BATCH_ID);
    assert.notEqual(second, batchId);
    assert.deepEqual((await readdir(join(shared, 'brain', 'inbox'))).filter((n) => n.endsWith('.json')).sort(), [`${batchId}.json`, `${second}.json`].sort());
  }));

test('submit: a broken plan prints every problem and writes nothing', () =>
  withMount(async (shared) => {
    const r = await submit(['test/fixtures/plans/broken', '--shared', shared]);
    assert.equal(r.exitCode, 1);
    assert.equal(r.stdout, '');
    const file = join(ROOT, 'test/fixtures/plans/broken/plan.md');
    assert.deepEqual(r.stderr.trim().split('\n'), [
      `${file}:9: dependency cycle: a -> c -> b -> a (each task waits for the next, so none of them can start); remove one of these dependencies`,
      `${file}:12: task 'b': unknown task_class 'gpu' (did you mean 'cpu'?); allowed: cpu, script, llm, meta`,
      `${file}:18: task 'c': depends_on names 'missing', which is not a task of this plan; tasks: a, b, c`,
      'submit: 3 problems; nothing was submitted',
    ]);
    assert.deepEqual(await listAll(shared), []);
  }));

test('submit: bad --config JSON is an error naming --config, and writes nothing', () =>
  withMount(async (shared) => {
    const r = await submit(['plans/hello', '--shared', shared, '--config', '{NAME: world}']);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr, /^--config: not valid JSON \(.*\); expected an object of input values, e\.g\. --config '\{"COUNT": 5, "NAME": "world"\}'\n/);
    assert.deepEqual(await listAll(shared), []);

    const wrongShape = await submit(['plans/hello', '--shared', shared, '--config', '{"NAME": {"first": "Ada"}, "ZZZ": 1}']);
    assert.equal(wrongShape.exitCode, 1);
    const lines = wrongShape.stderr.trim().split('\n');
    assert.equal(lines[0], `--config: value of 'NAME' is an object; values must be strings, numbers or booleans (pass structured data as a JSON string)`);
    assert.deepEqual(await listAll(shared), []);
  }));

test('submit: an unknown config name and a plan name taken by a different plan are refused', () =>
  withMount(async (shared) => {
    const unknown = await submit(['plans/hello', '--shared', shared, '--config', '{"NAMES": "x"}']);
    assert.equal(unknown.exitCode, 1);
    assert.match(unknown.stderr, /plan\.md:\d+: config gives 'NAMES', but the plan has no input NAMES \(did you mean 'NAME'\?\)/);
    assert.deepEqual(await listAll(shared), []);

    const other = join(shared, 'plans', 'hello');
    await cp(join(ROOT, 'plans', 'hello'), other, { recursive: true });
    await writeFile(join(other, 'plan.md'), (await readFile(join(other, 'plan.md'), 'utf8')).replace('world', 'moon'));
    const taken = await submit(['plans/hello', '--shared', shared]);
    assert.equal(taken.exitCode, 1);
    assert.match(taken.stderr, /plans\/hello\/plan\.md:1: a different plan named 'hello' is already on the mount/);
    assert.deepEqual(await listAll(shared), (await listAll(shared)).filter((p) => p.startsWith('plans')));

    const missing = await submit(['no-such-plan', '--shared', shared]);
    assert.equal(missing.exitCode, 1);
    assert.match(missing.stderr, /no such plan folder, and no plan named 'no-such-plan' under .*; .*plans on the mount: hello/);
  }));
