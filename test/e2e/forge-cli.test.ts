// The forge command as a person runs it (bin/forge): every subcommand's --help and usage
// errors, the dispatcher's own errors, status --json, config check and logs on a mount built
// with the real store APIs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { defaultGpus, writeConfig } from '../../agents/core/config.ts';
import { TaskStore } from '../../agents/core/store.ts';
import type { AttemptRecord } from '../../agents/core/task.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FORGE = join(ROOT, 'bin', 'forge');
const SUBCOMMANDS = ['rig', 'submit', 'ask', 'status', 'watch', 'logs', 'history', 'forward', 'signal', 'cancel', 'retry', 'pause', 'resume', 'doctor', 'config', 'demo', 'bench', 'build', 'chaos', 'install-service', 'metrics', 'adapters'];

function forge(args: string[], shared = '/nonexistent-forge-shared') {
  return execa(FORGE, args, { cwd: ROOT, reject: false, env: { RIG_SHARED: shared }, timeout: 60_000 });
}

/** Runs fn over items, at most `width` at a time (each is a node process on a shared machine). */
async function pool<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: width }, lane));
  return out;
}

test('forge X --help prints a usage naming forge X on stdout; forge X --no-such-flag exits 2 with the usage on stderr only', { timeout: 180_000 }, async () => {
  const cases = SUBCOMMANDS.flatMap((name) => [[name, '--help'], [name, '--no-such-flag']]);
  const results = await pool(cases, 4, (args) => forge(args));
  for (const [i, r] of results.entries()) {
    const [name, flag] = cases[i]!;
    const usage = new RegExp(`^usage: forge ${name}\\b`, 'm');
    if (flag === '--help') {
      assert.equal(r.exitCode, 0, `${name} --help: ${r.stderr}`);
      assert.match(r.stdout, usage, `${name} --help`);
      assert.match(r.stdout, /^\s+-h, --help\s/m, `${name} --help lists --help`);
      assert.equal(r.stderr, '', `${name} --help`);
    } else {
      assert.equal(r.exitCode, 2, `${name} --no-such-flag: ${r.stderr}`);
      assert.equal(r.stdout, '', `${name} --no-such-flag`);
      assert.match(r.stderr, /unknown option --no-such-flag/, name);
      assert.match(r.stderr, usage, `${name} --no-such-flag`);
    }
  }
});

test('forge alone lists the commands; a mistyped command or option gets a did-you-mean and exit 2', { timeout: 60_000 }, async () => {
  const [bare, help, version, typo, rigTypo, stray] = await Promise.all([
    forge([]), forge(['help']), forge(['--version']), forge(['stauts']), forge(['rig', '--simulat', '3']), forge(['status', 'extra']),
  ]);
  for (const r of [bare, help]) {
    assert.equal(r.exitCode, 0, r.stderr);
    for (const name of SUBCOMMANDS) assert.match(r.stdout, new RegExp(`^  ${name}\\s+\\S`, 'm'), name);
  }
  assert.equal(version.exitCode, 0);
  assert.match(version.stdout, /^forge \d+\.\d+\.\d+$/);
  assert.equal(typo.exitCode, 2);
  assert.equal(typo.stdout, '');
  assert.match(typo.stderr, /unknown command 'stauts'; did you mean status\?/);
  assert.equal(rigTypo.exitCode, 2);
  assert.equal(rigTypo.stdout, '');
  assert.match(rigTypo.stderr, /unknown option --simulat \(did you mean --simulate\?\)/);
  assert.match(rigTypo.stderr, /^usage: forge rig\b/m);
  assert.equal(stray.exitCode, 2);
  assert.equal(stray.stdout, '');
  assert.match(stray.stderr, /unexpected argument 'extra'/);
});

test('forge status --json and submit --json print only JSON; forge config check accepts a good config and lists every problem of a bad one', { timeout: 60_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeConfig(paths.config, { gpus: defaultGpus(2) });
    const bad = join(paths.root, 'bad-config.json');
    await writeFile(bad, JSON.stringify({ gpus: defaultGpus(1), cycles: { internal_s: 3e6 }, resource_limit: {} }));
    const [status, submitted, ok, okJson, refused, refusedJson, noAction] = await Promise.all([
      forge(['status', '--json', '--shared', paths.root]),
      forge(['submit', 'plans/hello', '--json', '--shared', paths.root]),
      forge(['config', 'check', '--shared', paths.root]),
      forge(['config', 'check', '--json'], paths.root),
      forge(['config', 'check', '--config', bad, '--shared', paths.root]),
      forge(['config', 'check', '--config', bad, '--json']),
      forge(['config', 'chek', '--shared', paths.root]),
    ]);
    assert.equal(status.exitCode, 0, status.stderr);
    assert.equal(typeof JSON.parse(status.stdout), 'object');
    assert.equal(submitted.exitCode, 0, submitted.stderr);
    const batch = JSON.parse(submitted.stdout) as { batch_id: string; plan: string; inbox_file: string };
    assert.equal(batch.plan, 'hello');
    assert.ok(batch.inbox_file.startsWith(paths.inbox), batch.inbox_file);
    assert.ok(batch.inbox_file.includes(batch.batch_id), submitted.stdout);

    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.match(ok.stdout, /^ok: 2 GPUs: gpu-0 \(GPU 0, /);
    assert.equal(okJson.exitCode, 0, okJson.stderr);
    const okParsed = JSON.parse(okJson.stdout) as { ok: boolean; gpus: unknown[]; problems: string[] };
    assert.deepEqual([okParsed.ok, okParsed.gpus.length, okParsed.problems], [true, 2, []]);

    assert.equal(refused.exitCode, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /cycles\.internal_s: must be between 0\.05 and 3600 s; found 3000000/);
    assert.match(refused.stderr, /resource_limit/);
    assert.match(refused.stderr, /the rig would refuse it/);
    assert.equal(refusedJson.exitCode, 1);
    const refusedParsed = JSON.parse(refusedJson.stdout) as { ok: boolean; problems: string[] };
    assert.equal(refusedParsed.ok, false);
    assert.ok(refusedParsed.problems.length >= 2, refusedJson.stdout);

    assert.equal(noAction.exitCode, 2);
    assert.match(noAction.stderr, /unknown action 'chek'/);
  } finally {
    await cleanup();
  }
});

function attempt(n: number, over: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    attempt: n, agent: 'gpu-0', claimed_at: `2026-01-01T00:0${n}:00.000Z`, finished_at: `2026-01-01T00:0${n}:30.000Z`,
    outcome: 'success', failure_kind: null, reason: null, exit_code: 0, ...over,
  };
}

test('forge logs shows each attempt and the tail of its output, from a live folder or the archive; an unknown task exits 1', { timeout: 60_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const batchPath = join(paths.root, 'plans', 'p', 'batches', 'b1');
    await mkdir(join(batchPath, 'logs'), { recursive: true });
    const many = Array.from({ length: 80 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    await writeFile(join(batchPath, 'logs', 'scan.attempt1.out'), 'first try\n');
    await writeFile(join(batchPath, 'logs', 'scan.attempt1.err'), 'Traceback: boom\n');
    await writeFile(join(batchPath, 'logs', 'scan.attempt2.out'), many);
    const store = new TaskStore(paths);
    await store.write('failed', makeTask({
      batch: 'b1', name: 'scan', batch_path: batchPath, attempt: 2,
      attempts: [
        attempt(1, { outcome: 'failed', failure_kind: 'app', exit_code: 3, reason: 'exit code 3' }),
        attempt(2, { agent: 'gpu-1', outcome: 'failed', failure_kind: 'infra', exit_code: null, reason: 'agent died' }),
      ],
    }));
    await store.write('complete', makeTask({ batch: 'b0', name: 'old', batch_path: batchPath, attempt: 1, attempts: [attempt(1)] }));
    assert.ok(await store.archive('b0__old', 'complete', 'b0'));

    const [text, json, byName, archived, unknown] = await Promise.all([
      forge(['logs', 'b1__scan', '--shared', paths.root]),
      forge(['logs', 'b1__scan', '--json'], paths.root),
      forge(['logs', 'scan', '--shared', paths.root]),
      forge(['logs', 'b0__old', '--shared', paths.root]),
      forge(['logs', 'b1__nope', '--shared', paths.root]),
    ]);
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /^task b1__scan \(batch b1, plan p\) in tasks\/failed: 2 attempts$/m);
    assert.match(text.stdout, /^attempt 1 of 3: gpu-0, claimed 2026-01-01T00:01:00\.000Z, finished 2026-01-01T00:01:30\.000Z: failed \(app\), exit 3$/m);
    assert.match(text.stdout, /^ {4}Traceback: boom$/m);
    assert.match(text.stdout, /^attempt 2 of 3: gpu-1, .*: failed \(infra\)$/m);
    assert.match(text.stdout, /^ {2}reason: agent died$/m);
    assert.match(text.stdout, /scan\.attempt2\.out \(last 50 lines\)\n {4}line 31\n/);
    assert.doesNotMatch(text.stdout, /^ {4}line 30$/m);
    assert.match(text.stdout, /scan\.attempt2\.err: no such file/);

    assert.equal(json.exitCode, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { task_id: string; attempts: Array<{ outcome: string; stdout: { lines: string[] | null } }> };
    assert.equal(parsed.task_id, 'b1__scan');
    assert.deepEqual(parsed.attempts.map((a) => a.stdout.lines?.length), [1, 50]);

    assert.equal(byName.exitCode, 0, byName.stderr);
    assert.match(byName.stdout, /^task b1__scan /);
    assert.equal(archived.exitCode, 0, archived.stderr);
    assert.match(archived.stdout, /^task b0__old \(batch b0, plan p\) in tasks\/archive\/b0: 1 attempt$/m);

    assert.equal(unknown.exitCode, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /no task b1__nope in .* \(looked in tasks\/private, .*tasks\/failed, tasks\/archive\/b1\)/);
  } finally {
    await cleanup();
  }
});

test('a fast command runs from its own bundle while the sources its inputs file lists are older; a stale one runs from TypeScript', { timeout: 60_000 }, async () => {
  const dist = await mkdtemp(join(tmpdir(), 'forge-dist-'));
  try {
    const fast = join(dist, 'cli', 'fast');
    await mkdir(fast, { recursive: true });
    await copyFile(join(ROOT, 'dist', 'cli', 'fast', 'codeCache.cjs'), join(fast, 'codeCache.cjs'));
    await writeFile(join(fast, 'status.cjs'), "process.stdout.write('from the fast bundle\\n');\n");
    await writeFile(join(fast, 'status.inputs.json'), '["package.json"]\n');
    // The whole CLI's bundle is stale: only the command's own check can send it to its bundle.
    await writeFile(join(dist, 'cli', 'forge.js'), '');
    await writeFile(join(dist, 'cli', 'forge.inputs.json'), '["package.json"]\n');
    const old = new Date('2000-01-01T00:00:00Z');
    await utimes(join(dist, 'cli', 'forge.js'), old, old);
    const run = () => execa(FORGE, ['status', '--help'], { cwd: ROOT, reject: false, env: { FORGE_DIST_DIR: dist, FORGE_CODE_CACHE: 'off' }, timeout: 30_000 });

    const fresh = await run();
    assert.equal(fresh.stdout, 'from the fast bundle', fresh.stderr);
    await utimes(join(fast, 'status.cjs'), old, old);
    const stale = await run();
    assert.equal(stale.exitCode, 0, stale.stderr);
    assert.match(stale.stdout, /^usage: forge status\b/m, 'the TypeScript command');
    await utimes(join(fast, 'status.cjs'), new Date(), new Date());
    await rm(join(fast, 'status.inputs.json'));
    assert.match((await run()).stdout, /^usage: forge status\b/m, 'no inputs file: not known fresh');
  } finally {
    await rm(dist, { recursive: true, force: true });
  }
});
