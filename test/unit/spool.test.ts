// The spool's pure parts (names, whole lines, overlap, checks) and the merger's behaviour on
// real files in a temporary mount: partial lines wait, a restart repeats nothing, samples are
// appended once, special files are skipped once, quiet files of gone writers are retired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFile, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DecisionLog, type DecisionVerb, formatDecision } from '../../agents/core/decisionLog.ts';
import { writeJsonAtomic } from '../../agents/core/atomic.ts';
import {
  MAX_SPOOL_LINE_BYTES, completeLines, decisionSpoolFile, decisionSpoolName, dropMerged, markOf, readDecisionLines, readSpoolFrom, readSpoolOffsets, sampleSpoolName,
  spoolPart, spoolWriterPidOn,
} from '../../agents/core/spool.ts';
import { LogMerger } from '../../agents/brain/logMerge.ts';
import { MERGE_BUSY_MS, MERGE_IDLE_MS, MERGE_QUIET_AFTER_MS, checkSampleText, mergePaceMs, rotate, shouldRetire } from '../../agents/brain/spoolMergeRules.ts';
import { ObservedAge } from '../../agents/core/observedAge.ts';
import { writeTrainingSample } from '../../agents/llm/trainingSamples.ts';
import type { MountPaths } from '../../agents/core/paths.ts';
import { tempMount } from '../helpers/mount.ts';

const lines = (text: string) => text.split('\n').filter(Boolean);
const readLog = async (paths: MountPaths) => lines(await readFile(paths.decisionLog, 'utf8').catch(() => ''));
const fifo = (path: string) => execFileSync('mkfifo', [path]);

function merger(paths: MountPaths, over: Partial<ConstructorParameters<typeof LogMerger>[0]> = {}): LogMerger {
  return new LogMerger({ paths, log: new DecisionLog(paths.decisionLog, () => 0), now: () => 0, say: () => {}, ...over });
}

test('spool names: only [A-Za-z0-9._-], no leading dot, bounded; the writer pid is read back only for this host', () => {
  assert.equal(spoolPart('gpu-0'), 'gpu-0');
  assert.equal(spoolPart('../x y/z'), '__x_y_z');
  assert.equal(spoolPart(''), '_');
  assert.equal(spoolPart('x'.repeat(300)).length, 64);
  assert.equal(decisionSpoolName('rig', 'node-1.lab', 42), 'rig.node-1.lab.42.log');
  assert.equal(decisionSpoolName('.hidden\n', 'h/ost', 7), '_hidden_.h_ost.7.log');
  assert.match(sampleSpoolName('b1__a.2', 9, 'abcd'), /^b1__a\.2\.9\.abcd\.jsonl$/);
  assert.match(sampleSpoolName('b1__a'), /^b1__a\.\d+\.[0-9a-f]{12}\.jsonl$/);
  assert.equal(spoolWriterPidOn('rig.node-1.lab.42.log', 'node-1.lab'), 42);
  assert.equal(spoolWriterPidOn('rig.node-2.42.log', 'node-1.lab'), null);
  assert.equal(spoolWriterPidOn('notes.txt', 'node-1.lab'), null);
});

test('completeLines: whole lines only; the unterminated tail waits, unless it is longer than any line', () => {
  assert.deepEqual(completeLines(Buffer.from('')), { lines: [], consumed: 0 });
  assert.deepEqual(completeLines(Buffer.from('half')), { lines: [], consumed: 0 });
  assert.deepEqual(completeLines(Buffer.from('a\nb\nha')), { lines: ['a', 'b'], consumed: 4 });
  assert.deepEqual(completeLines(Buffer.from('a\n\n\nb\n')), { lines: ['a', 'b'], consumed: 6 }, 'empty lines dropped');
  assert.deepEqual(completeLines(Buffer.from('é—⏎\n')), { lines: ['é—⏎'], consumed: Buffer.byteLength('é—⏎\n') });
  assert.deepEqual(completeLines(Buffer.from('abcdefgh\nxy\n'), 4), { lines: ['abcd…', 'xy'], consumed: 12 }, 'a long line is cut');
  assert.deepEqual(completeLines(Buffer.from('ok\nabcdefgh'), 4), { lines: ['ok', 'abcd…'], consumed: 11 }, 'a tail longer than any line is taken, cut');
  assert.deepEqual(completeLines(Buffer.from('ok\nabcd'), 4), { lines: ['ok'], consumed: 3 }, 'a tail as long as a line waits');
});

test('dropMerged: the first lines of a tail found at the end of the log are dropped, once', () => {
  assert.deepEqual(dropMerged([], ['a']), ['a']);
  assert.deepEqual(dropMerged(['x', 'a', 'b'], ['a', 'b', 'c']), ['c']);
  assert.deepEqual(dropMerged(['x', 'a', 'b', 'y'], ['a', 'b', 'c']), ['c'], 'lines of other writers may follow');
  assert.deepEqual(dropMerged(['x', 'y'], ['a', 'b']), ['a', 'b']);
  assert.deepEqual(dropMerged(['a'], []), []);
});

test('checkSampleText, shouldRetire, quiet times (ObservedAge), rotate', () => {
  assert.deepEqual(checkSampleText('{"a":1}\n{"b":2}\n'), { ok: true, text: '{"a":1}\n{"b":2}\n' });
  assert.deepEqual(checkSampleText(''), { ok: false, problem: 'empty (a write cut short)' });
  assert.deepEqual(checkSampleText('{"a":1}'), { ok: false, problem: 'does not end with a newline (a write cut short)' });
  assert.deepEqual(checkSampleText('{"a":1}\n{"b":\n'), { ok: false, problem: 'line 2 is not valid JSON' });
  assert.deepEqual(checkSampleText('[1]\n'), { ok: false, problem: 'line 1 is not a JSON object' });

  const base = { mergedToEnd: true, quietMs: 3_600_000, retireAfterMs: 3_600_000, writerPid: null, alive: () => true };
  assert.equal(shouldRetire(base), true, 'another host: an hour of quiet');
  assert.equal(shouldRetire({ ...base, quietMs: 3_599_999 }), false);
  assert.equal(shouldRetire({ ...base, mergedToEnd: false }), false);
  assert.equal(shouldRetire({ ...base, writerPid: 5 }), false, 'this host: the writer lives');
  assert.equal(shouldRetire({ ...base, writerPid: 5, alive: () => false }), true);

  // The merger's quiet times are ObservedAge's, on the brain's clock.
  let t = 0;
  const q = new ObservedAge(() => t);
  const see = (name: string, version: string, now: number) => ((t = now), q.observe(name, version));
  assert.equal(see('f', '1:10', 1000), 0);
  assert.equal(see('f', '1:10', 5000), 4000);
  assert.equal(see('f', '1:20', 6000), 0, 'a change starts the quiet again');
  assert.equal(see('f', '1:20', 2000), 0, 'a clock that went back starts it again');
  q.keepOnly('', new Set());
  assert.equal(see('f', '1:20', 9000), 0);

  assert.deepEqual(rotate([1, 2, 3], 4), [2, 3, 1]);
  assert.deepEqual(rotate([], 4), []);
});

test('mergePaceMs: every second while tasks are in flight, lines came lately or the last try was refused; the idle pace only when all are quiet', () => {
  assert.equal(mergePaceMs(true, Infinity), MERGE_BUSY_MS);
  assert.equal(mergePaceMs(false, 0), MERGE_BUSY_MS);
  assert.equal(mergePaceMs(false, MERGE_QUIET_AFTER_MS - 1), MERGE_BUSY_MS);
  assert.equal(mergePaceMs(false, MERGE_QUIET_AFTER_MS), MERGE_IDLE_MS);
  assert.equal(mergePaceMs(true, MERGE_QUIET_AFTER_MS * 10), MERGE_BUSY_MS);
  assert.ok(MERGE_IDLE_MS > MERGE_BUSY_MS);
  assert.equal(mergePaceMs(false, Infinity, true), MERGE_BUSY_MS, 'a refused try is made again a second later');
});

test('readSpoolFrom: from the mark; a new inode or a shorter file from the start; a FIFO or symlink refused at once', { timeout: 10_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const f = join(paths.spoolDecisions, 'a.h.1.log');
    await writeFile(f, 'one\ntwo\n');
    const first = await readSpoolFrom(f, undefined);
    assert.ok(first.ok);
    assert.equal(first.bytes.toString(), 'one\ntwo\n');
    const mark = { offset: 4, ino: first.ino, head: Buffer.from('one\n').toString('hex') };
    assert.deepEqual(markOf(first, 4), mark);
    const again = await readSpoolFrom(f, mark);
    assert.ok(again.ok);
    assert.deepEqual([again.start, again.bytes.toString()], [4, 'two\n']);
    const small = await readSpoolFrom(f, mark, 2);
    assert.ok(small.ok);
    assert.equal(small.bytes.toString(), 'tw', 'at most maxBytes');
    await rm(f);
    await writeFile(f, 'new\nmore\n');
    const other = await readSpoolFrom(f, { ...mark, ino: first.ino === '1' ? '2' : '1' });
    assert.ok(other.ok);
    assert.deepEqual([other.start, other.bytes.toString()], [0, 'new\nmore\n'], 'another inode: from the start');
    const reused = await readSpoolFrom(f, { ...mark, ino: other.ino });
    assert.ok(reused.ok);
    assert.equal(reused.start, 0, 'the same inode (reused) with other first bytes: from the start');
    const shrunk = await readSpoolFrom(f, { offset: 100, ino: other.ino, head: '' });
    assert.ok(shrunk.ok);
    assert.equal(shrunk.start, 0, 'shorter than the mark: from the start');
    fifo(join(paths.spoolDecisions, 'p.h.1.log'));
    const p = await readSpoolFrom(join(paths.spoolDecisions, 'p.h.1.log'), undefined);
    assert.deepEqual([p.ok, !p.ok && p.why], [false, 'not_a_file']);
    await symlink('/dev/zero', join(paths.spoolDecisions, 'z.h.1.log'));
    const z = await readSpoolFrom(join(paths.spoolDecisions, 'z.h.1.log'), undefined);
    assert.deepEqual([z.ok, !z.ok && z.why], [false, 'not_a_file']);
    assert.equal((await readSpoolFrom(join(paths.spoolDecisions, 'gone.h.1.log'), undefined)).ok, false);
  } finally {
    await cleanup();
  }
});

test('DecisionLog.spool: a writer other than the brain appends to its own file in logs/spool/decisions/', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const log = DecisionLog.spool(paths, 'gpu 0/x', () => 0);
    assert.equal(log.file, decisionSpoolFile(paths, 'gpu 0/x'));
    assert.match(log.file, /\/logs\/spool\/decisions\/gpu_0_x\.[A-Za-z0-9._-]+\.\d+\.log$/);
    const line = await log.write({ who: 'gpu-0', what: 'START', reason: 'hello' });
    await Promise.all([log.write({ who: 'gpu-0', what: 'A' as DecisionVerb }), log.write({ who: 'gpu-0', what: 'B' as DecisionVerb }), log.write({ who: 'gpu-0', what: 'C' as DecisionVerb })]);
    assert.deepEqual(lines(await readFile(log.file, 'utf8')).map((l) => l.split(/\s+/)[2]), ['START', 'A', 'B', 'C'], 'one after another, in call order');
    assert.equal(line, formatDecision({ who: 'gpu-0', what: 'START', reason: 'hello' }, 0));
    assert.equal(await stat(paths.decisionLog).catch(() => null), null, 'the merged log is not touched');
    // A mount made before the spool existed: the folder is made.
    await rm(paths.spool, { recursive: true });
    await log.write({ who: 'gpu-0', what: 'AGAIN' as DecisionVerb });
    assert.equal(lines(await readFile(log.file, 'utf8')).length, 1);
  } finally {
    await cleanup();
  }
});

test('LogMerger: whole lines are merged once, a partial line waits, a restart repeats nothing', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const a = join(paths.spoolDecisions, 'rig.h1.10.log');
    const b = join(paths.spoolDecisions, 'doctor.h2.20.log');
    await writeFile(a, 'a1\na2\na3-ha');
    await writeFile(b, 'b1\n');
    const m = merger(paths);
    assert.deepEqual(await m.mergeOnce(), { lines: 3, samples: 0, retired: [] });
    assert.deepEqual(await readLog(paths), ['b1', 'a1', 'a2'], 'in name order, each file\'s lines in their order');
    const offsets = await readSpoolOffsets(paths);
    assert.ok(offsets.ok);
    assert.equal(offsets.value.decisions['rig.h1.10.log']?.offset, 6, 'the partial line is not counted');
    await appendFile(a, 'lf\na4\n');
    assert.equal((await m.mergeOnce()).lines, 2);
    const log = await readLog(paths);
    assert.deepEqual(log.slice(-2), ['a3-half', 'a4'], 'the completed line, whole');
    // A restarted brain reads the offsets and merges only what is new.
    const restarted = merger(paths);
    assert.equal((await restarted.mergeOnce()).lines, 0);
    await appendFile(b, 'b2\n');
    assert.equal((await restarted.mergeOnce()).lines, 1);
    assert.deepEqual((await readLog(paths)).sort(), ['a1', 'a2', 'a3-half', 'a4', 'b1', 'b2']);
  } finally {
    await cleanup();
  }
});

test('LogMerger: a replaced spool file (new inode) is merged from its start; a line is cut to a bounded length and made printable', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const a = join(paths.spoolDecisions, 'rig.h1.10.log');
    await writeFile(a, 'first\n');
    const m = merger(paths);
    await m.mergeOnce();
    await rm(a);
    await writeFile(a, `again\n\u001b[31mred\n${'x'.repeat(MAX_SPOOL_LINE_BYTES + 10)}\n`);
    assert.equal((await m.mergeOnce()).lines, 3);
    const log = await readLog(paths);
    assert.deepEqual(log.slice(0, 3), ['first', 'again', '\\x1b[31mred']);
    assert.equal(log[3], 'x'.repeat(MAX_SPOOL_LINE_BYTES - 1) + '…');
  } finally {
    await cleanup();
  }
});

test('LogMerger: maybeMerge runs at most once a second on the brain clock and never throws', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 10_000;
    const said: string[] = [];
    const m = merger(paths, { now: () => now, say: (l) => said.push(l) });
    await writeFile(join(paths.spoolDecisions, 'rig.h.1.log'), 'x\n');
    assert.deepEqual(await m.maybeMerge(), { lines: 1, samples: 0, retired: [] });
    now += 500;
    assert.equal(await m.maybeMerge(), null);
    now += 500;
    assert.deepEqual(await m.maybeMerge(), { lines: 0, samples: 0, retired: [] });
    // The offsets cannot be written (a file where brain/ should be): said, and tried again next time.
    await appendFile(join(paths.spoolDecisions, 'rig.h.1.log'), 'y\n');
    await rm(paths.brain, { recursive: true });
    await writeFile(paths.brain, 'not a folder');
    now += 1000;
    assert.equal(await m.maybeMerge(), null);
    assert.match(said.join('\n'), /merging logs\/spool\/ failed/);
  } finally {
    await cleanup();
  }
});

test('LogMerger: a sample file is appended once and removed; a brain that died before removing it does not append it again', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const s = { ts: '2026-01-01T00:00:00.000Z', task_id: 'b1__a', batch: 'b1', model: 'm', type: 'generate', prompt: 'p\nq', response: 'r', ok: true };
    const file = await writeTrainingSample(paths.spoolSamples, s);
    assert.match(file, /\/logs\/spool\/samples\/b1__a\.\d+\.[0-9a-f]{12}\.jsonl$/);
    assert.deepEqual(await readdir(paths.spoolSamples), [file.split('/').pop()], 'no temporary left');
    const m = merger(paths);
    assert.equal((await m.mergeOnce()).samples, 1);
    assert.deepEqual(lines(await readFile(paths.trainingSamples, 'utf8')).map((l) => JSON.parse(l)), [s]);
    assert.deepEqual(await readdir(paths.spoolSamples), []);

    // Appended and recorded, then the brain died before the unlink: the file is still there.
    const second = await writeTrainingSample(paths.spoolSamples, { ...s, task_id: 'b1__b' });
    const name = second.split('/').pop()!;
    await appendFile(paths.trainingSamples, await readFile(second, 'utf8'));
    await writeJsonAtomic(paths.spoolOffsets, { decisions: {}, samples_merged: [name] });
    const restarted = merger(paths);
    assert.equal((await restarted.mergeOnce()).samples, 0);
    assert.deepEqual(lines(await readFile(paths.trainingSamples, 'utf8')).map((l) => JSON.parse(l).task_id), ['b1__a', 'b1__b']);
    assert.deepEqual(await readdir(paths.spoolSamples), [], 'removed without appending');
    await restarted.mergeOnce();
    const offsets = await readSpoolOffsets(paths);
    assert.ok(offsets.ok);
    assert.deepEqual(offsets.value.samples_merged, [], 'a removed name leaves the record');
  } finally {
    await cleanup();
  }
});

test('LogMerger: a sample file too big or not JSON lines is quarantined with a reason; special files in the spool are skipped once, without hanging', { timeout: 20_000 }, async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeFile(join(paths.spoolSamples, 'big.1.aa.jsonl'), `{"p":"${'x'.repeat(200)}"}\n`);
    await writeFile(join(paths.spoolSamples, 'bad.1.bb.jsonl'), '{"p":\n');
    await writeFile(join(paths.spoolSamples, 'good.1.cc.jsonl'), '{"p":1}\n');
    await writeFile(join(paths.spoolSamples, '.good.1.dd.jsonl.5.ab.tmp'), 'half');
    fifo(join(paths.spoolSamples, 'pipe.1.ee.jsonl'));
    fifo(join(paths.spoolDecisions, 'pipe.h.1.log'));
    await symlink('/dev/zero', join(paths.spoolDecisions, 'zero.h.1.log'));
    const m = merger(paths, { maxSampleBytes: 100 });
    assert.deepEqual(await m.mergeOnce(), { lines: 0, samples: 1, retired: [] });
    assert.deepEqual(await m.mergeOnce(), { lines: 0, samples: 0, retired: [] });
    assert.equal(await readFile(paths.trainingSamples, 'utf8'), '{"p":1}\n');
    const q = (await readdir(join(paths.quarantine, 'spool'))).map((n) => n.replace(/^\d+-\d+-[0-9a-f]+-/, '')).sort();
    assert.deepEqual(q, ['bad.1.bb.jsonl', 'bad.1.bb.jsonl.why.txt', 'big.1.aa.jsonl', 'big.1.aa.jsonl.why.txt']);
    assert.deepEqual((await readdir(paths.spoolSamples)).sort(), ['.good.1.dd.jsonl.5.ab.tmp', 'pipe.1.ee.jsonl'], 'the FIFO and the writer mid-rename stay');
    const log = await readLog(paths);
    const bad = log.filter((l) => / BAD_FILE /.test(l));
    assert.equal(bad.length, 5, log.join('\n'));
    assert.match(bad.join('\n'), /logs\/spool\/decisions\/pipe\.h\.1\.log: is a FIFO, not a regular file; skipped/);
    assert.match(bad.join('\n'), /logs\/spool\/decisions\/zero\.h\.1\.log: is a symlink, not a regular file; skipped/);
    assert.match(bad.join('\n'), /logs\/spool\/samples\/pipe\.1\.ee\.jsonl: is a FIFO/);
    assert.match(bad.join('\n'), /logs\/spool\/samples\/big\.1\.aa\.jsonl: .*over the limit of 100; moved to quarantine\/spool\//);
    assert.match(bad.join('\n'), /logs\/spool\/samples\/bad\.1\.bb\.jsonl: line 1 is not valid JSON; moved to quarantine\/spool\//);
  } finally {
    await cleanup();
  }
});

test('LogMerger: a merged file quiet for an hour on the brain clock is removed when its writer is gone, kept while it lives', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 0;
    const alive = new Set([111]);
    const m = merger(paths, { now: () => now, host: 'here', isAlive: (pid) => alive.has(pid) });
    const other = join(paths.spoolDecisions, 'rig.there.5.log');
    const live = join(paths.spoolDecisions, 'gpu-0.here.111.log');
    const dead = join(paths.spoolDecisions, 'doctor.here.222.log');
    await writeFile(other, 'o1\n');
    await writeFile(live, 'l1\n');
    await writeFile(dead, 'd1\nd2-cut'); // its writer died mid-line
    await m.mergeOnce();
    now = 30 * 60_000;
    await appendFile(other, 'o2\n'); // changed: its quiet starts again
    await m.mergeOnce();
    now = 60 * 60_000;
    assert.deepEqual((await m.mergeOnce()).retired, [], 'the dead writer\'s file is not merged to its end');
    now = 61 * 60_000;
    // A partial line of a dead writer never completes: only a file merged to its end retires.
    assert.deepEqual((await m.mergeOnce()).retired, []);
    await appendFile(dead, '\n');
    await m.mergeOnce();
    now = 122 * 60_000;
    assert.deepEqual((await m.mergeOnce()).retired.sort(), ['doctor.here.222.log', 'rig.there.5.log']);
    assert.deepEqual(await readdir(paths.spoolDecisions), ['gpu-0.here.111.log']);
    const offsets = await readSpoolOffsets(paths);
    assert.ok(offsets.ok);
    assert.deepEqual(Object.keys(offsets.value.decisions), ['gpu-0.here.111.log']);
    assert.deepEqual((await readLog(paths)).sort(), ['d1', 'd2-cut', 'l1', 'o1', 'o2']);
    // The writer was alive after all: its next line makes a new file, merged from its start.
    await writeFile(other, 'o3\n');
    await m.mergeOnce();
    assert.equal((await readLog(paths)).at(-1), 'o3');
  } finally {
    await cleanup();
  }
});

test('readDecisionLines: the merged log, then what each spool file holds beyond its offset, with no line twice', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const rig = DecisionLog.spool(paths, 'rig', () => 0);
    const brain = new DecisionLog(paths.decisionLog, () => 0);
    await brain.write({ who: 'brain', what: 'RELEASE', task: 'b1__a' });
    await rig.write({ who: 'rig', what: 'START' });
    const m = merger(paths);
    await m.mergeOnce();
    await rig.write({ who: 'rig', what: 'STOPPED' });
    const all = await readDecisionLines(paths);
    assert.deepEqual(all.map((l) => l.split(/\s+/).slice(1, 3).join(' ')), ['brain RELEASE', 'rig START', 'rig STOPPED']);
    // The brain appended a round and died before recording its offsets: nothing shows twice.
    const before = await readFile(paths.spoolOffsets, 'utf8');
    await m.mergeOnce();
    await writeFile(paths.spoolOffsets, before);
    assert.deepEqual(await readDecisionLines(paths), all);
    // No brain ever ran: every line is still found.
    await rm(paths.decisionLog);
    await rm(paths.spoolOffsets);
    assert.deepEqual((await readDecisionLines(paths)).map((l) => l.split(/\s+/)[2]), ['START', 'STOPPED']);
  } finally {
    await cleanup();
  }
});

test('LogMerger: a bad offsets record is reported and every spool file merged again from its start (lines may repeat, none is lost)', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeFile(join(paths.spoolDecisions, 'rig.h.1.log'), 'x\n');
    await writeFile(paths.spoolOffsets, '{"decisions": 3}');
    const m = merger(paths);
    assert.equal((await m.mergeOnce()).lines, 1);
    assert.match((await readLog(paths)).join('\n'), /BAD_FILE — brain\/spool_offsets\.json: not a spool offsets record.*merged again from its start/);
    assert.ok((await readSpoolOffsets(paths)).ok, 'written again, good');
  } finally {
    await cleanup();
  }
});

test('LogMerger: a decisions file whose version did not change is not read again (another host\'s until recheckMs); one that changed is', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 0;
    // Versions the test sets by hand: a file can then change without its stat showing it (a network mount's stale cache).
    const versions = new Map<string, string>();
    const stats: string[] = [];
    const versionOf = async (p: string) => (stats.push(p.split('/').pop()!), versions.get(p.split('/').pop()!) ?? null);
    const m = merger(paths, { now: () => now, recheckMs: 10_000, versionOf, host: 'here' });
    const a = join(paths.spoolDecisions, 'rig.h.1.log');
    const b = join(paths.spoolDecisions, 'gpu-0.h.2.log');
    const own = join(paths.spoolDecisions, 'doctor.here.3.log');
    await writeFile(a, 'a1\n');
    await writeFile(b, 'b1\n');
    await writeFile(own, 'o1\n');
    versions.set('rig.h.1.log', 'a-v1').set('gpu-0.h.2.log', 'b-v1').set('doctor.here.3.log', 'o-v1');
    assert.equal((await m.mergeOnce()).lines, 3);
    await appendFile(a, 'a2\n');
    await appendFile(b, 'b2\n');
    await appendFile(own, 'o2\n');
    versions.set('gpu-0.h.2.log', 'b-v2');
    stats.length = 0;
    assert.equal((await m.mergeOnce()).lines, 1, 'only the file whose version moved is read');
    assert.deepEqual(stats.sort(), ['doctor.here.3.log', 'gpu-0.h.2.log', 'rig.h.1.log'], 'each file stat\'ed once');
    assert.deepEqual((await readLog(paths)).slice(-1), ['b2']);
    now += 9_999;
    assert.equal((await m.mergeOnce()).lines, 0, 'unchanged to its stat: not read');
    now += 1;
    assert.equal((await m.mergeOnce()).lines, 1, 'another host\'s file: read anyway once its last read is recheckMs old');
    assert.deepEqual((await readLog(paths)).sort(), ['a1', 'a2', 'b1', 'b2', 'o1']);
    // A file of this host's own processes: its stat is exact (one client), so only a new version reads it.
    now += 60_000;
    assert.equal((await m.mergeOnce()).lines, 0);
    versions.set('doctor.here.3.log', 'o-v2');
    assert.equal((await m.mergeOnce()).lines, 1);
    assert.equal((await readLog(paths)).at(-1), 'o2');
    // A file not stat-able is read (and the read says what is wrong); a replaced one from its start.
    await rm(a);
    await writeFile(a, 'A1\n');
    versions.set('rig.h.1.log', 'a-v2');
    assert.equal((await m.mergeOnce()).lines, 1);
    versions.delete('gpu-0.h.2.log');
    await appendFile(b, 'b3\n');
    assert.equal((await m.mergeOnce()).lines, 1);
    assert.deepEqual((await readLog(paths)).slice(-2), ['A1', 'b3']);
  } finally {
    await cleanup();
  }
});

test('LogMerger: a file read only in part (maxReadBytes) is read again next round though unchanged; a failed append leaves every file to be read again', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const versionOf = async () => 'always the same';
    const m = merger(paths, { maxReadBytes: 8, versionOf });
    await writeFile(join(paths.spoolDecisions, 'rig.h.1.log'), 'aaa\nbbb\nccc\n');
    assert.equal((await m.mergeOnce()).lines, 2, 'the first 8 bytes');
    assert.equal((await m.mergeOnce()).lines, 1, 'the rest, though the stat shows no change');
    assert.equal((await m.mergeOnce()).lines, 0);
    // The merged log cannot be appended to (a directory in its place that cannot be moved aside).
    await appendFile(join(paths.spoolDecisions, 'gpu-0.h.2.log'), 'x1\n');
    await rm(paths.decisionLog, { force: true });
    await mkdir(paths.decisionLog);
    await rm(paths.quarantine, { recursive: true });
    await writeFile(paths.quarantine, 'not a folder');
    await assert.rejects(m.mergeOnce(), /quarantine/);
    await rm(paths.decisionLog, { recursive: true });
    await rm(paths.quarantine);
    assert.equal((await m.mergeOnce()).lines, 1, 'the lines of the failed round, merged now');
    assert.deepEqual(await readLog(paths), ['x1']);
  } finally {
    await cleanup();
  }
});

test('LogMerger: a file skipped as unchanged still ages, and retires once quiet for an hour with its writer gone', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 0;
    const m = merger(paths, { now: () => now, host: 'here', isAlive: () => false, recheckMs: 24 * 60 * 60_000 });
    await writeFile(join(paths.spoolDecisions, 'doctor.here.222.log'), 'd1\n');
    await m.mergeOnce();
    now = 30 * 60_000;
    assert.deepEqual((await m.mergeOnce()).retired, []);
    now = 61 * 60_000;
    assert.deepEqual((await m.mergeOnce()).retired, ['doctor.here.222.log']);
    assert.deepEqual(await readdir(paths.spoolDecisions), []);
    assert.deepEqual(await readLog(paths), ['d1']);
  } finally {
    await cleanup();
  }
});
