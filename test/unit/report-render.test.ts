// The batch report's renderer: escaping of what came from the mount, no external resource,
// one bar per attempt, and its bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { BAR_COLOURS, MAX_ATTEMPTS_DRAWN, attemptBars, esc, renderReport, type ReportInput } from '../../agents/report/renderReport.ts';
import { MAX_PER_GPU, TelemetrySeries } from '../../agents/report/telemetrySeries.ts';
import type { BatchSummary } from '../../agents/brain/summary.ts';
import type { Heartbeat } from '../../agents/core/heartbeat.ts';
import type { AttemptRecord, Task } from '../../agents/core/task.ts';
import { makeTask } from '../helpers/mount.ts';
import { countColour, decodePng } from '../helpers/png.ts';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();

function attempt(n: number, agent: string, from: number, to: number | null, outcome: AttemptRecord['outcome'] = 'success', reason: string | null = null): AttemptRecord {
  return { attempt: n, agent, claimed_at: iso(from), finished_at: to === null ? null : iso(to), outcome, failure_kind: outcome === 'success' ? null : 'app', reason, exit_code: outcome === 'success' ? 0 : 3 };
}

function summaryOf(tasks: Task[]): BatchSummary {
  return {
    batch: 'b1', plan: 'p', state: 'failed',
    counts: { total: tasks.length, waiting: 0, queued: 0, processing: 0, complete: 1, failed: tasks.length - 1, skipped: 0 },
    tasks: tasks.map((t) => ({ name: t.name, id: t.id, state: t.attempts.at(-1)?.outcome === 'success' ? 'complete' : 'failed', attempts: t.attempts.length, duration_ms: 1000, reason: t.attempts.at(-1)?.reason ?? null })),
  };
}

function input(tasks: Task[], over: Partial<ReportInput> = {}): ReportInput {
  return { summary: summaryOf(tasks), batch: { submitted_at: iso(0), started_at: iso(0), finished_at: iso(10) }, tasks, samples: [], stderr: {}, now: T0 + 10_000, ...over };
}

const EVIL = '<script>alert(1)</script>';

test('esc: markup and quotes become entities, control characters a replacement mark', () => {
  assert.equal(esc(`<a href="x" onclick='y'>&</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  assert.equal(esc('a\u0000b\u001bc\u2028d'), 'a\ufffdb\ufffdc\ufffdd');
  assert.equal(esc('tab\tand\nline'), 'tab\tand\nline');
});

test('a task name, reason and stderr tail holding markup appear escaped, never as markup', () => {
  const t = makeTask({ id: 'b1__x', name: EVIL, attempts: [attempt(1, 'gpu0', 1, 2, 'failed', `bad ${EVIL}`)] });
  const html = renderReport(input([t], { stderr: { 'b1__x#1': [`boom ${EVIL}`, 'esc \u001b[31mred'] } }));
  assert.ok(!html.includes(EVIL), 'the raw script tag is not in the page');
  assert.ok(!/<script/i.test(html), 'no script element at all');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('boom &lt;script&gt;'), 'the stderr tail is shown, escaped');
  assert.ok(!html.includes('\u001b'), 'no control character reaches the page');
});

test('the page names no external resource and needs no script', () => {
  const tasks = [
    makeTask({ id: 'b1__a', name: 'a', attempts: [attempt(1, 'gpu0', 0, 3)] }),
    makeTask({ id: 'b1__b', name: 'b', attempts: [attempt(1, 'gpu1', 1, 2, 'failed', 'see http://example.com/x and //cdn.example/y')] }),
  ];
  const samples = [0, 2, 4].map((s) => ({ t: T0 + s * 1000, gpu_id: 0, agent: 'gpu0', temperature_c: 40 + s, vram_used_mb: 1000 * s, vram_total_mb: 80_000 }));
  const html = renderReport(input(tasks, { samples, stderr: { 'b1__b#1': ['fetch https://evil.example/payload.js'] } }));
  assert.doesNotMatch(html, /\b(?:src|href)\s*=\s*["']?\s*(?:https?:|\/\/|file:)/i);
  assert.doesNotMatch(html, /url\(/i);
  assert.doesNotMatch(html, /@import|<link|<script|<img|<iframe|<object|<embed/i);
  assert.match(html, /<polyline /, 'the telemetry is drawn');
});

test('one bar per attempt, coloured by outcome; an open claim is drawn as running', () => {
  const tasks = [
    makeTask({ id: 'b1__a', name: 'a', attempts: [attempt(1, 'gpu0', 0, 1, 'failed', 'x'), attempt(2, 'gpu1', 2, 3, 'lost'), attempt(3, 'gpu0', 4, 5)] }),
    makeTask({ id: 'b1__b', name: 'b', attempt: 1, claimed_by: 'gpu1', claimed_at: iso(6), attempts: [] }),
  ];
  const bars = attemptBars(tasks, T0 + 10_000);
  assert.deepEqual(bars.map((b) => `${b.task.name}#${b.attempt}:${b.kind}`), ['a#1:app', 'a#2:infra', 'a#3:success', 'b#1:running']);
  const html = renderReport(input(tasks));
  for (const [kind, n] of [['success', 1], ['app', 1], ['infra', 1], ['running', 1]] as const) {
    assert.equal(html.split(`fill="${BAR_COLOURS[kind]}" class="bar"`).length - 1, n, kind);
  }
});

test('a huge batch draws the first attempts only and says so', () => {
  const tasks = Array.from({ length: MAX_ATTEMPTS_DRAWN + 5 }, (_, i) => makeTask({ id: `b1__t${i}`, name: `t${i}`, attempts: [attempt(1, 'gpu0', i, i + 1)] }));
  const html = renderReport(input(tasks));
  assert.equal(html.split('class="bar"').length - 1, MAX_ATTEMPTS_DRAWN);
  assert.match(html, new RegExp(`The first ${MAX_ATTEMPTS_DRAWN} of ${MAX_ATTEMPTS_DRAWN + 5} attempts are drawn`));
});

test('telemetry: one sample per new heartbeat, bounded per GPU by thinning', () => {
  const s = new TelemetrySeries();
  const beat = (seq: number) => ({ gpu_id: 0, name: 'gpu0', pid: 1, seq, temperature_c: 50, vram_used_mb: 10, vram_total_mb: 100 }) as Heartbeat;
  s.record([beat(1)], T0);
  s.record([beat(1)], T0 + 2000); // the same heartbeat read again
  s.record([beat(2)], T0 + 2500);
  assert.equal(s.between(0, Infinity).length, 2);
  for (let i = 3; i < 3 + 3 * MAX_PER_GPU; i++) s.record([beat(i)], T0 + i * 100_000);
  const all = s.between(0, Infinity);
  assert.ok(all.length <= MAX_PER_GPU, `${all.length} samples kept`);
  assert.ok(all[0]!.t < T0 + 100 * 100_000, 'the start of the run is kept, at a coarser grain');
});

test('the PNG reader decodes each filter type', () => {
  // A 3x5 RGB image whose rows use filters 0 to 4.
  const w = 3, rows: number[] = [];
  const px = (y: number, x: number) => [10 * x + y, 20 + y, 200 - x];
  for (let y = 0; y < 5; y++) {
    rows.push(y);
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const v = px(y, x)[c]!;
        const a = x > 0 ? px(y, x - 1)[c]! : 0, b = y > 0 ? px(y - 1, x)[c]! : 0, cc = x > 0 && y > 0 ? px(y - 1, x - 1)[c]! : 0;
        const p = a + b - cc, pred = y === 1 ? a : y === 2 ? b : y === 3 ? (a + b) >> 1 : y === 4 ? (Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - cc) ? a : Math.abs(p - b) <= Math.abs(p - cc) ? b : cc) : 0;
        rows.push((v - pred) & 0xff);
      }
    }
  }
  const chunk = (type: string, data: Buffer) => { const b = Buffer.alloc(12 + data.length); b.writeUInt32BE(data.length, 0); b.write(type, 4, 'latin1'); data.copy(b, 8); return b; };
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(5, 4); ihdr[8] = 8; ihdr[9] = 2;
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0))]);
  const img = decodePng(png);
  for (let y = 0; y < 5; y++) for (let x = 0; x < w; x++) assert.deepEqual([...img.rgba.subarray((y * w + x) * 4, (y * w + x) * 4 + 3)], px(y, x), `pixel ${x},${y}`);
  assert.equal(countColour(img, '#0014c8', 0, 1, 0), 1);
});

test('tasks a gate skipped are listed apart with its reason, not as failures', () => {
  const gate = makeTask({ id: 'b1__check', name: 'check', attempts: [attempt(1, 'gpu0', 0, 1)] });
  const work = makeTask({ id: 'b1__work', name: 'work' });
  const summary: BatchSummary = {
    batch: 'b1', plan: 'p', state: 'complete',
    counts: { total: 2, waiting: 0, queued: 0, processing: 0, complete: 1, failed: 0, skipped: 1 },
    tasks: [
      { name: 'check', id: gate.id, state: 'complete', attempts: 1, duration_ms: 1000, reason: null },
      { name: 'work', id: work.id, state: 'skipped', attempts: 0, duration_ms: 0, reason: `gate check said no: ${EVIL}` },
    ],
  };
  const html = renderReport(input([gate, work], { summary }));
  assert.match(html, /1 of 2 tasks complete, 1 skipped \(a gate said no\), 0 failed or not run/);
  assert.match(html, /No attempt failed\.<\/p><h3>Skipped: a gate said no<\/h3><ul><li>work: gate check said no: &lt;script&gt;/);
  assert.doesNotMatch(html, /Never ran/);
  assert.match(html, /<tr class="skipped"><td>work<\/td><td>skipped<\/td>/);
});
