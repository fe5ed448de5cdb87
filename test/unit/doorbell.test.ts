// The doorbell: a fixed-size file per writer naming its last task moves, read by content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BELL_BYTES, type BellNews, BellReader, Doorbell, IDLE_AFTER_MS, IDLE_FACTOR, IDLE_LOOK_MS, QUIET_LOOKS, decodeBell, encodeBell, newEvents, nextLookMs, startBellWatch,
} from '../../agents/core/doorbell.ts';
import { TaskStore } from '../../agents/core/store.ts';
import { makeTask, tempMount } from '../helpers/mount.ts';

test('a bell is always BELL_BYTES long and reads back; the oldest moves give way when it is full', () => {
  const few = encodeBell({ writer: 'gpu-0', n: 7, events: [{ n: 7, to: 'complete', id: 'b1__t1' }] });
  assert.equal(few.length, BELL_BYTES);
  assert.deepEqual(decodeBell(few.toString()), { writer: 'gpu-0', n: 7, events: [{ n: 7, to: 'complete', id: 'b1__t1' }] });
  const many = Array.from({ length: 400 }, (_, i) => ({ n: i + 1, to: 'queue' as const, id: `batch-20261201-aaaa__item_${String(i).padStart(4, '0')}` }));
  const full = encodeBell({ writer: 'brain', n: 400, events: many });
  assert.equal(full.length, BELL_BYTES);
  const back = decodeBell(full.toString())!;
  assert.ok(back.events.length > 50 && back.events.length < 400, `${back.events.length} moves kept`);
  assert.equal(back.events.at(-1)!.n, 400, 'the newest move is kept');
  assert.deepEqual(back.events, many.slice(-back.events.length), 'the newest moves, in order');
  // As many as fit: one more would not.
  const text = full.toString().trimEnd();
  assert.ok(Buffer.byteLength(text) + 1 + JSON.stringify([1, 'queue', many[0]!.id]).length > BELL_BYTES);
  // Encoding again (a writer rings its whole ring on every move) gives the same bytes.
  assert.deepEqual(encodeBell({ writer: 'brain', n: 400, events: many }), full);
});

test('decodeBell refuses what is not a bell, and drops ids that are not safe names', () => {
  assert.equal(decodeBell('{"w":"brain","n":3,"e":[[3,"queue","b__'), null, 'torn');
  assert.equal(decodeBell('[]'), null);
  assert.equal(decodeBell('{"w":1,"n":3,"e":[]}'), null);
  const r = decodeBell(JSON.stringify({ w: 'brain', n: 3, e: [[1, 'queue', '../../etc/passwd'], [2, 'elsewhere', 'b__x'], [3, 'queue', 'b__ok']] }));
  assert.deepEqual(r?.events, [{ n: 3, to: 'queue', id: 'b__ok' }]);
});

test('newEvents: the moves after the last look, and a gap when some were pushed out or the writer began again', () => {
  const rec = { writer: 'brain', n: 12, events: [10, 11, 12].map((n) => ({ n, to: 'queue' as const, id: `b__t${n}` })) };
  assert.deepEqual(newEvents(rec, null), { fresh: rec.events, gap: true, changed: true }, 'a writer seen first: all it names, and a look at the folders');
  assert.deepEqual(newEvents(rec, 12), { fresh: [], gap: false, changed: false });
  assert.deepEqual(newEvents(rec, 10).fresh.map((e) => e.n), [11, 12]);
  assert.equal(newEvents(rec, 10).gap, false);
  assert.equal(newEvents(rec, 5).gap, true, 'moves 6..9 are no longer in the ring');
  assert.equal(newEvents(rec, 99).gap, true, 'a writer that began again');
});

test('announce() writes a bell with no moves, so readers know the writer before its first move', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const bell = new Doorbell(paths.doorbells, 'gpu-3');
    await bell.announce();
    const rec = decodeBell(await readFile(bell.file, 'utf8'))!;
    assert.equal(rec.writer, 'gpu-3');
    assert.deepEqual(rec.events, []);
  } finally {
    await cleanup();
  }
});

test('a writer rewrites its bell in place (same inode, same size); a reader sees each move once', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const bell = new Doorbell(paths.doorbells, 'gpu-0');
    const reader = new BellReader({ dir: paths.doorbells, self: 'brain', now: () => performance.now(), relistMs: 0 });
    bell.ring('complete', 'b1__a');
    await bell.settled();
    const first = await stat(bell.file);
    assert.equal(first.size, BELL_BYTES);
    const n = decodeBell(await readFile(bell.file, 'utf8'))!.n;
    assert.deepEqual(await reader.look(), { moved: [{ n, to: 'complete', id: 'b1__a' }], rescan: true }, 'a writer seen first: what its ring names, and a look at the folders');
    bell.ring('failed', 'b1__b');
    bell.ring('complete', 'b1__c');
    await bell.settled();
    const second = await stat(bell.file);
    assert.equal(second.ino, first.ino, 'rewritten in place, not replaced');
    assert.equal(second.size, BELL_BYTES);
    const news = await reader.look();
    assert.deepEqual(news.moved.map((e) => `${e.to}/${e.id}`), ['failed/b1__b', 'complete/b1__c']);
    assert.equal(news.rescan, false);
    assert.deepEqual((await reader.look()).moved, [], 'nothing twice');
  } finally {
    await cleanup();
  }
});

test('a torn or foreign bell asks for a rescan; a FIFO in a bell\'s place is skipped without hanging', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    await writeFile(join(paths.doorbells, 'gpu-1.bell'), '{"w":"gpu-1","n":4,"e":[[4,"compl');
    execFileSync('mkfifo', [join(paths.doorbells, 'gpu-2.bell')]);
    const reader = new BellReader({ dir: paths.doorbells, now: () => performance.now() });
    const news = await reader.look();
    assert.deepEqual(news.moved, []);
    assert.equal(news.rescan, true);
  } finally {
    await cleanup();
  }
});

test('the store rings its moves, and listHinted finds a task by name before the listing shows it', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    const bell = new Doorbell(paths.doorbells, 'brain');
    let now = 0;
    const brainStore = new TaskStore(paths, { bell, ownFolders: ['private'], now: () => now });
    await brainStore.write('private', makeTask({ name: 'a' }));
    await brainStore.move('b1__a', 'private', 'queue');
    await bell.settled();
    const rec = decodeBell(await readFile(bell.file, 'utf8'))!;
    assert.deepEqual(rec.events.map((e) => `${e.to}/${e.id}`), ['queue/b1__a'], 'the private write is not rung, the release is');

    // A reader whose listing lags (another client's cache): the hint makes it look by name.
    const agentStore = new TaskStore(paths, { now: () => now });
    agentStore.hint('queue', 'b1__a');
    agentStore.hint('queue', 'b1__ghost');
    agentStore.hint('queue', '../escape');
    const ids = await agentStore.listHinted('queue');
    assert.deepEqual(ids.sort(), ['b1__a', 'b1__ghost'], 'a listed id once, an unlisted hint, no unsafe name');
    assert.deepEqual(await agentStore.list('queue'), ['b1__a'], 'list() itself never holds hints');
    now += 16_000;
    assert.deepEqual(await agentStore.listHinted('queue'), ['b1__a'], 'a hint the listing never confirms lapses');
  } finally {
    await cleanup();
  }
});

test('a reader learns from a bell\'s head whether anything moved, without reading the whole ring', async () => {
  const { bellHeadN, encodeBell } = await import('../../agents/core/doorbell.ts');
  const text = encodeBell({ writer: 'gpu-0', n: 1764650000123, events: [{ n: 1764650000123, to: 'queue', id: 'b__t' }] }).toString();
  assert.equal(bellHeadN(text.slice(0, 512)), 1764650000123);
  assert.equal(bellHeadN('{"w":"odd\\"name","n":5,"e":[]}'), 5);
  assert.equal(bellHeadN('{"n":5,"w":"x"}'), null, 'another layout: read in full');
  assert.equal(bellHeadN('\n\n\n'), null);
});

test('nextLookMs: the base pace, IDLE_FACTOR slower after QUIET_LOOKS quiet looks, IDLE_LOOK_MS once quiet for IDLE_AFTER_MS with nothing in flight', () => {
  assert.equal(nextLookMs(250, QUIET_LOOKS - 1, 10 * IDLE_AFTER_MS, false), 250, 'not yet quiet for long enough');
  assert.equal(nextLookMs(250, QUIET_LOOKS, 0, false), 250 * IDLE_FACTOR);
  assert.equal(nextLookMs(250, QUIET_LOOKS, IDLE_AFTER_MS - 1, false), 250 * IDLE_FACTOR);
  assert.equal(nextLookMs(250, QUIET_LOOKS, IDLE_AFTER_MS, false), IDLE_LOOK_MS, 'idle');
  assert.equal(nextLookMs(250, QUIET_LOOKS, IDLE_AFTER_MS, true), 250 * IDLE_FACTOR, 'work in flight: never the idle pace');
  assert.equal(nextLookMs(1000, QUIET_LOOKS, IDLE_AFTER_MS, false), 1000 * IDLE_FACTOR, 'never faster than the pace before');
});

test('startBellWatch: the pace thins out on a quiet idle rig, and a bell\'s news, a move of its own or a local event (stir) bring it back at once', async () => {
  let looks = 0;
  let next: BellNews = { moved: [], rescan: false };
  const reader = {
    look: async () => {
      looks += 1;
      const news = next;
      next = { moved: [], rescan: false };
      return news;
    },
  };
  let now = 0;
  let own = 1;
  let busy = false;
  const woken: BellNews[] = [];
  const hinted: string[] = [];
  const watch = startBellWatch(reader, { hint: (_f, id) => hinted.push(id) }, {
    intervalMs: 1, wake: (n) => woken.push(n), onError: (err) => assert.fail(String(err)), now: () => now, busy: () => busy, ownMoves: () => own,
  });
  const lookedAgain = async (n = 1) => {
    const want = looks + n;
    while (looks < want) await new Promise((r) => setTimeout(r, 1));
  };
  try {
    await lookedAgain(QUIET_LOOKS + 1);
    assert.equal(watch.paceMs, IDLE_FACTOR, 'quiet looks: slower');
    own += 1;
    await lookedAgain();
    assert.equal(watch.paceMs, 1, 'a move of its own: the pace of a rig at work');
    await lookedAgain(QUIET_LOOKS + 1);
    now += IDLE_AFTER_MS;
    busy = true;
    await lookedAgain();
    assert.equal(watch.paceMs, IDLE_FACTOR, 'work in flight: never the idle pace');
    busy = false;
    await lookedAgain();
    assert.equal(watch.paceMs, IDLE_LOOK_MS, 'quiet and idle');
    const before = looks;
    watch.stir();
    assert.equal(looks, before + 1, 'a local event: a look at once, not after the idle wait');
    await lookedAgain();
    assert.equal(watch.paceMs, 1);
    watch.stir();
    await lookedAgain();
    next = { moved: [{ n: 9, to: 'queue', id: 'b1__a' }], rescan: false };
    await lookedAgain(QUIET_LOOKS + 2);
    assert.deepEqual(hinted, ['b1__a']);
    assert.deepEqual(woken.map((n) => n.moved.length), [1]);
  } finally {
    await watch.stop();
  }
});

test('a bell carries its writer\'s local key; the head gives it, and the sequence number as before', async () => {
  const { bellHeadN, bellHeadKey, localKey } = await import('../../agents/core/doorbell.ts');
  const { paths, cleanup } = await tempMount();
  try {
    const key = localKey(paths.doorbells);
    assert.match(key ?? '', /^[0-9a-f-]+:\d+$/, 'boot id and device number (Linux)');
    const bell = new Doorbell(paths.doorbells, 'gpu-0');
    bell.ring('complete', 'b1__a');
    await bell.settled();
    const text = await readFile(bell.file, 'utf8');
    assert.equal(decodeBell(text)?.key, key);
    assert.equal(bellHeadKey(text.slice(0, 512)), key);
    assert.equal(bellHeadN(text.slice(0, 512)), decodeBell(text)?.n);
    assert.equal(bellHeadKey('{"w":"gpu-0","n":5,"e":[]}'), null, 'a bell without a key (another version): read every look');
    assert.equal(bellHeadKey('{"w":"gpu-0","n":5,"k":"$(rm -rf /)","e":[]}'), null, 'only a key of the expected shape');
    assert.equal(decodeBell('{"w":"gpu-0","n":5,"k":"../x","e":[]}')?.key, undefined);
  } finally {
    await cleanup();
  }
});

test('with localEveryMs, a local writer\'s bell is read only that often; another host\'s (another key) on every look', async () => {
  const { paths, cleanup } = await tempMount();
  try {
    let now = 0;
    const local = new Doorbell(paths.doorbells, 'gpu-0');
    const reader = new BellReader({ dir: paths.doorbells, self: 'brain', now: () => now, relistMs: 0, localEveryMs: 5000 });
    // A writer elsewhere: the same bell format with another key (written as that host's agent would).
    const far = join(paths.doorbells, 'gpu-1.bell');
    const farBell = (n: number, id: string) => writeFile(far, encodeBell({ writer: 'gpu-1', n, key: '00000000-0000-0000-0000-000000000000:1', events: [{ n, to: 'complete', id }] }));
    local.ring('complete', 'b1__a');
    await local.settled();
    await farBell(1, 'b1__x');
    const first = await reader.look();
    assert.deepEqual(first.moved.map((e) => e.id).sort(), ['b1__a', 'b1__x'], 'both read at first: keys are learned from the bells');
    local.ring('complete', 'b1__b');
    await local.settled();
    await farBell(2, 'b1__y');
    now = 1000;
    assert.deepEqual((await reader.look()).moved.map((e) => e.id), ['b1__y'], 'the local bell is skipped: its move comes as a file event');
    now = 5000;
    assert.deepEqual((await reader.look()).moved.map((e) => e.id), ['b1__b'], 'looked at again after localEveryMs: nothing lost');
    const plain = new BellReader({ dir: paths.doorbells, self: 'brain', now: () => now, relistMs: 0 });
    assert.deepEqual((await plain.look()).moved.map((e) => e.id).sort(), ['b1__a', 'b1__b', 'b1__y'], 'without localEveryMs every bell is read');
  } finally {
    await cleanup();
  }
});
