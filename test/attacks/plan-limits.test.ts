// A plan is data from anyone who can write to the mount, and the brain reads it in its own
// loop. Each limit of agents/plan/limits.ts refuses what exceeds it with a message naming the
// limit and the figure found; messages stay small whatever the plan holds; special files and
// links out of a folder are refused with a reason, never a hang; a symlinked secret never
// reaches the mount; a submission cannot take an existing batch's id; and a plan that runs
// past the parse time limit is refused while the brain keeps releasing other work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ManualClock } from '../../agents/core/clock.ts';
import { Config } from '../../agents/core/config.ts';
import { readBatchRecord, writeBrainState } from '../../agents/core/batch.ts';
import { writeSubmission } from '../../agents/core/inbox.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { Brain } from '../../agents/brain/brain.ts';
import { readManifestItems } from '../../agents/plan/expand.ts';
import { PLAN_LIMITS } from '../../agents/plan/limits.ts';
import { checkPlan, loadPlan } from '../../agents/plan/load.ts';
import { parsePlan } from '../../agents/plan/parse.ts';
import { validatePlan } from '../../agents/plan/validate.ts';
import { tempMount } from '../helpers/mount.ts';
import { writePlan } from '../helpers/rig.ts';

const ROOT = join(import.meta.dirname, '../..');
const FILE = '/p/x/plan.md';
const HEAD = '# P\n\n## Goal\nLimits.\n\n## Tasks\n\n';
const task = (name: string, deps = '') => `### ${name}\n- **task_class**: cpu\n- **command**: \`true\`\n${deps ? `- **depends_on**: ${deps}\n` : ''}\n`;
const problemsOf = (text: string) => {
  const r = parsePlan(text, FILE, '/p/x');
  return [...r.problems, ...(r.stopped ? [] : validatePlan(r.plan, {}))].join('\n');
};

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'forge-limits-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('each limit on plan.md is refused with the limit and the figure found, on its line', { timeout: 120_000 }, () => {
  const big = HEAD + 'x'.repeat(PLAN_LIMITS.planBytes);
  assert.match(problemsOf(big), /plan\.md:1: plan\.md is 2,097,184 bytes, over the limit of 2,097,152 bytes/);
  const fm = `---\n${'note: some words\n'.repeat(5000)}---\n${HEAD}${task('a')}`;
  assert.match(problemsOf(fm), /plan\.md:1: the front matter is 85,003 bytes, over the limit of 65,536 bytes/);
  assert.match(problemsOf(HEAD + '### h\n'.repeat(11_998)), /plan\.md:1: plan\.md has 12,001 headings, over the limit of 12,000/);
  const deep = `${HEAD}${task('a')}${'>'.repeat(50_000)} x\n`;
  assert.match(problemsOf(deep), /plan\.md:12: this line nests 50,000 block quotes or lists .* over the limit of 32/);
  const many = HEAD + Array.from({ length: 10_001 }, (_, i) => `### t${i}\n- **command**: \`true\`\n`).join('');
  assert.match(problemsOf(many), /plan\.md:6: the plan has 10,001 tasks, over the limit of 10,000 tasks per plan/);
  const chain = HEAD + Array.from({ length: 1_001 }, (_, i) => task(`t${i}`, i ? `t${i - 1}` : '')).join('');
  assert.match(problemsOf(chain), /task 't1000' ends a chain of 1,001 tasks each waiting for the one before \(t1000 <- t999 <- t998 <- \.\.\. <- t2 <- t1 <- t0\), over the limit of 1,000/);
  // At the limits themselves, nothing is refused.
  const atLimit = HEAD + Array.from({ length: 1_000 }, (_, i) => task(`t${i}`, i ? `t${i - 1}` : '')).join('') + `${'> '.repeat(32)}x\n`;
  assert.equal(problemsOf(atLimit), '');
});

test('messages do not grow with the plan: 3,000 tasks each naming a missing dependency give < 64 KB, a few suggestions each', { timeout: 60_000 }, async () => {
  const text = HEAD + Array.from({ length: 3000 }, (_, i) => task(`t${i}`, `missing${i}`)).join('');
  const parsed = parsePlan(text, FILE, '/p/x');
  const all = validatePlan(parsed.plan, {});
  assert.equal(all.length, 3000);
  for (const p of all) assert.ok(p.length < 400 && !p.includes('t2999, '), `one message names no task list: ${p.slice(0, 200)}`);
  assert.match(all[5]!, /task 't5': depends_on names 'missing5', which is not a task of this plan; 3,000 tasks, too many to list$/);
  await withTemp(async (dir) => {
    await writeFile(join(dir, 'plan.md'), text);
    const { problems } = await checkPlan(dir, {});
    assert.equal(problems.length, PLAN_LIMITS.problemsShown + 1);
    assert.match(problems.at(-1)!, /^… and 2,950 more problems \(the first 50 are listed\)$/);
    assert.ok(Buffer.byteLength(problems.join('\n')) < 64 * 1024, `${Buffer.byteLength(problems.join('\n'))} bytes of messages`);
  });
  // A small plan still lists its tasks, and offers the names a typo away.
  const small = validatePlan(parsePlan(HEAD + task('encode') + task('encoder') + task('x', 'encdoe'), FILE, '/p/x').plan, {});
  assert.deepEqual(small, [`${FILE}:19: task 'x': depends_on names 'encdoe', which is not a task of this plan (did you mean 'encode' or 'encoder'?); tasks: encode, encoder, x`]);
});

test('a FIFO or a link out of the folder as plan.md is refused at once, by the loader and by submit', { timeout: 60_000 }, () =>
  withTemp(async (dir) => {
    const fifo = join(dir, 'fifo-plan');
    await mkdir(fifo);
    execFileSync('mkfifo', [join(fifo, 'plan.md')]);
    assert.match((await loadPlan(fifo)).problems.join('\n'), /plan\.md:1: cannot read plan\.md: .* is a FIFO, not a regular file/);
    const linked = join(dir, 'linked-plan');
    await mkdir(linked);
    await symlink('/dev/zero', join(linked, 'plan.md'));
    assert.match((await loadPlan(linked)).problems.join('\n'), /leads outside .* \(to \/dev\/zero\) through a symlink/);
    const r = await execa(process.execPath, [join(ROOT, 'bin/forge'), 'submit', fifo, '--shared', join(dir, 'mount')], { cwd: ROOT, reject: false, timeout: 50_000 });
    assert.equal(r.exitCode, 1, String(r.stderr));
    assert.match(String(r.stderr), /is a FIFO, not a regular file/);
  }),
);

test('a FIFO, a link to /dev/zero or out of the batch folder, a huge manifest or too many items: the foreach manifest is refused with a reason', { timeout: 60_000 }, () =>
  withTemp(async (dir) => {
    const batch = join(dir, 'batch');
    await mkdir(batch);
    execFileSync('mkfifo', [join(batch, 'fifo.json')]);
    await symlink('/dev/zero', join(batch, 'zero.json'));
    await writeFile(join(dir, 'outside.json'), '[1, 2]');
    await symlink(join(dir, 'outside.json'), join(batch, 'out.json'));
    await writeFile(join(batch, 'in.json'), '[1, 2]');
    await symlink(join(batch, 'in.json'), join(batch, 'link.json'));
    await writeFile(join(batch, 'big.json'), Buffer.alloc(PLAN_LIMITS.manifestBytes + 1, 0x20));
    await writeFile(join(batch, 'many.json'), JSON.stringify(new Array(100_001).fill(0)));
    const error = async (name: string) => {
      const r = await readManifestItems(join(batch, name), '', batch);
      return r.ok ? 'read' : r.error;
    };
    assert.match(await error('fifo.json'), /fifo\.json is a FIFO, not a regular file/);
    assert.match(await error('zero.json'), /zero\.json leads outside .* \(to \/dev\/zero\) through a symlink/);
    assert.match(await error('out.json'), /out\.json leads outside .* through a symlink/);
    assert.match(await error('big.json'), /big\.json is 16,777,217 bytes, over the limit of 16,777,216|big\.json is 16777217 bytes, over the limit of 16777216/);
    assert.match(await error('many.json'), /has 100,001 items, over the limit of 100,000 items per foreach/);
    assert.deepEqual(await readManifestItems(join(batch, 'link.json'), '', batch), { ok: true, items: [1, 2] }, 'a link inside the batch folder is followed');
  }),
);

test('submit never copies a symlink to a secret outside the plan folder, nor a FIFO; a link inside travels as its file', { timeout: 60_000 }, () =>
  withTemp(async (dir) => {
    const secret = join(dir, 'home', '.ssh', 'id_rsa');
    await mkdir(join(dir, 'home', '.ssh'), { recursive: true });
    await writeFile(secret, 'SECRET-KEY-MATERIAL\n');
    const plan = join(dir, 'leaky');
    await mkdir(join(plan, 'scripts'), { recursive: true });
    await writeFile(join(plan, 'plan.md'), HEAD + task('a'));
    await writeFile(join(plan, 'scripts', 'run.mjs'), 'console.log(1)\n');
    await symlink(join(plan, 'scripts', 'run.mjs'), join(plan, 'scripts', 'alias.mjs'));
    await symlink(secret, join(plan, 'scripts', 'key'));
    execFileSync('mkfifo', [join(plan, 'pipe')]);
    const mount = join(dir, 'mount');
    const submit = () => execa(process.execPath, [join(ROOT, 'bin/forge'), 'submit', plan, '--shared', mount], { cwd: ROOT, reject: false, timeout: 50_000 });
    let r = await submit();
    assert.equal(r.exitCode, 1, String(r.stdout));
    assert.match(String(r.stderr), /scripts\/key: a symlink to .*id_rsa, outside the plan folder/);
    assert.match(String(r.stderr), /leaky\/pipe: a FIFO, not a regular file/);
    assert.equal(existsSync(join(mount, 'plans', 'leaky')), false, 'nothing was placed');
    await rm(join(plan, 'scripts', 'key'));
    await rm(join(plan, 'pipe'));
    r = await submit();
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.equal(await readFile(join(mount, 'plans', 'leaky', 'scripts', 'alias.mjs'), 'utf8'), 'console.log(1)\n');
    const everything = await readdir(mount, { recursive: true });
    for (const f of everything.map(String)) {
      const text = await readFile(join(mount, f), 'utf8').catch(() => '');
      assert.ok(!text.includes('SECRET-KEY-MATERIAL'), `${f} holds no secret`);
    }
  }),
);

const CONFIG = Config.parse({ gpus: [{ id: 0, name: 'gpu-0', model: 'm', port: 1 }] });
const SMALL = `${HEAD}${task('first')}${task('second', 'first')}`;

/** Passes until check() holds; a submission's plan is checked in a worker thread, so this waits on it. */
async function passUntil(brain: Brain, check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    await brain.pass();
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never: ${what}`);
}

const rejected = async (paths: MountPaths, name: string) => readFile(join(paths.inboxRejected, `${name}.errors.txt`), 'utf8').catch(() => null);

test('inbox: a batch_id with __, or one an existing batch has, is rejected with its reason; the existing batch is untouched', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writePlan(paths, 'small', SMALL);
    const brain = new Brain({ paths, config: CONFIG, clock: new ManualClock(Date.parse('2026-01-01T00:00:00.000Z')), say: () => {} });
    const B = '20260101-000000-aaaaaa';
    await writeSubmission(paths, { plan: 'small', config: {}, batch_id: B, submitted_at: '2026-01-01T00:00:00.000Z' });
    await passUntil(brain, async () => (await readBatchRecord(paths, B)) !== null, 'the first batch exists');
    const before = JSON.stringify(await readBatchRecord(paths, B));
    const tasksBefore = (await readdir(paths.folders.private)).concat(await readdir(paths.folders.queue)).sort();

    await writeBrainState(paths, { active_batches: [B, 'only-in-state'], updated_at: '2026-01-01T00:00:01.000Z', brain_pid: 1 });
    await writeSubmission(paths, { plan: 'small', config: {}, batch_id: 'x__y', submitted_at: '2026-01-01T00:00:02.000Z' });
    await writeSubmission(paths, { plan: 'small', config: {}, batch_id: B, submitted_at: '2026-01-01T00:00:03.000Z' });
    await writeSubmission(paths, { plan: 'small', config: {}, batch_id: 'only-in-state', submitted_at: '2026-01-01T00:00:04.000Z' });
    await passUntil(brain, async () => (await readdir(paths.inbox)).filter((f) => f.endsWith('.json')).length === 0, 'the inbox is empty');

    assert.match((await rejected(paths, 'x__y.json'))!, /batch_id: 'x__y' contains '__', which separates the batch from the task in task ids/);
    assert.match((await rejected(paths, `${B}.json`))!, new RegExp(`batch_id '${B}' is already a batch`));
    assert.match((await rejected(paths, 'only-in-state.json'))!, /batch_id 'only-in-state' is already a batch/);
    assert.equal(JSON.stringify(await readBatchRecord(paths, B)), before, 'the existing batch record is unchanged');
    assert.deepEqual((await readdir(paths.folders.private)).concat(await readdir(paths.folders.queue)).sort(), tasksBefore);
    assert.equal(await readBatchRecord(paths, 'x__y'), null);

    // The very submission that made the batch, left behind by a brain stopped before removing
    // it, is removed quietly on the next pass: that is a restart, not a second submission.
    await writeSubmission(paths, { plan: 'small', config: {}, batch_id: B, submitted_at: '2026-01-01T00:00:00.000Z' });
    await rm(join(paths.inboxRejected, `${B}.json.errors.txt`));
    await brain.pass();
    assert.deepEqual((await readdir(paths.inbox)).filter((f) => f.endsWith('.json')), []);
    assert.equal(await rejected(paths, `${B}.json`), null);
    assert.equal(JSON.stringify(await readBatchRecord(paths, B)), before);
  } finally {
    await cleanup();
  }
});

test('a plan that runs past the parse time limit is rejected with that limit, while the brain keeps releasing other work', { timeout: 120_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writePlan(paths, 'small', SMALL);
    // 6,000 tasks: within every limit, but far more than 0.2 s of parsing on any machine.
    await writePlan(paths, 'huge', HEAD + Array.from({ length: 6000 }, (_, i) => task(`t${i}`)).join(''));
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00.000Z'));
    const B = '20260101-000000-bbbbbb';
    const first = new Brain({ paths, config: CONFIG, clock, say: () => {} });
    await writeSubmission(paths, { plan: 'small', config: {}, batch_id: B, submitted_at: '2026-01-01T00:00:00.000Z' });
    await passUntil(first, async () => (await readdir(paths.folders.queue)).includes(`${B}__first.json`), 'the small batch releases its first task');

    // A brain restarted with a tight parse budget takes the small batch back and a huge plan arrives.
    const brain = new Brain({ paths, config: CONFIG, clock, say: () => {}, parseBudget: { timeMs: 200, heapMb: 512 } });
    await brain.recover();
    await writeSubmission(paths, { plan: 'huge', config: {}, batch_id: 'huge-1', submitted_at: '2026-01-01T00:00:01.000Z' });
    await brain.pass(); // starts the huge plan's check and returns without waiting for it
    assert.ok(existsSync(join(paths.inbox, 'huge-1.json')), 'the pass did not wait for the check');
    assert.ok(await brain.store.move(`${B}__first`, 'queue', 'complete'));
    await brain.pass();
    assert.ok((await readdir(paths.folders.queue)).includes(`${B}__second.json`), 'the other batch goes on meanwhile');

    await passUntil(brain, async () => (await rejected(paths, 'huge-1.json')) !== null, 'the huge plan is rejected');
    assert.match((await rejected(paths, 'huge-1.json'))!, /huge\/plan\.md: reading and checking this plan took longer than 0\.2 s, the time limit for one plan, and was stopped/);
    assert.equal(await readBatchRecord(paths, 'huge-1'), null);
    assert.match(await readFile(paths.decisionLog, 'utf8'), /REJECT .*huge-1\.json: .*the time limit for one plan/);
  } finally {
    await cleanup();
  }
});
