// The schedule predictor (agents/plan/predict.ts): small graphs whose makespan, placement and
// per-GPU peak VRAM can be worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ModelFacts, type PredictGpu, type PredictNode, predictSchedule } from '../../agents/plan/predict.ts';

const node = (id: string, over: Partial<PredictNode> = {}): PredictNode => ({
  id, deps: [], place: 'gpu', taskClass: 'cpu', worker: true, runMs: 1000, lagMs: 0, reserveMb: 0, holdMb: 0, model: null, ...over,
});
const gpu = (name: string, over: Partial<PredictGpu> = {}): PredictGpu => ({ name, budgetMb: 4000, maxWorkers: 16, slots: 1, model: null, ...over });
const models: ModelFacts = { loadMs: () => 3000, sizeMb: (m) => (m === 'big' ? 3000 : null) };
const script = (id: string, over: Partial<PredictNode> = {}) => node(id, { taskClass: 'script', reserveMb: 1000, holdMb: 600, ...over });

const cases: Array<{ name: string; nodes: PredictNode[]; gpus: PredictGpu[]; makespan: number; peaks: number[]; tasks?: number[]; on?: Record<string, number | null> }> = [
  {
    name: 'a chain runs one after another, each after its lag',
    nodes: [node('a', { lagMs: 100 }), node('b', { deps: ['a'], runMs: 500, lagMs: 200 }), node('c', { deps: ['b'], runMs: 0, lagMs: 50 })],
    gpus: [gpu('g0')],
    makespan: 100 + 1000 + 200 + 500 + 50,
    peaks: [0],
  },
  {
    name: 'independent tasks run side by side on one card',
    nodes: [script('a'), script('b'), script('c')],
    gpus: [gpu('g0')],
    makespan: 1000,
    peaks: [1800],
  },
  {
    name: 'max_workers 1: one task at a time',
    nodes: [node('a'), node('b'), node('c')],
    gpus: [gpu('g0', { maxWorkers: 1 })],
    makespan: 3000,
    peaks: [0],
  },
  {
    name: 'the VRAM budget holds two reservations of 1500 MB at once, not three',
    nodes: [script('a', { reserveMb: 1500 }), script('b', { reserveMb: 1500 }), script('c', { reserveMb: 1500 })],
    gpus: [gpu('g0', { budgetMb: 3000 })],
    makespan: 2000,
    peaks: [1200],
  },
  {
    name: 'work spreads over the cards: the one running fewer tasks takes the next',
    nodes: [script('a'), script('b'), script('c'), script('d')],
    gpus: [gpu('g0', { maxWorkers: 1 }), gpu('g1', { maxWorkers: 1 })],
    makespan: 2000,
    peaks: [600, 600],
    tasks: [2, 2],
  },
  {
    name: 'a card with no known budget is limited by its workers only',
    nodes: [script('a', { reserveMb: 99_999 }), script('b', { reserveMb: 99_999 })],
    gpus: [gpu('g0', { budgetMb: null, maxWorkers: 2 })],
    makespan: 1000,
    peaks: [1200],
  },
  {
    name: 'tasks the brain runs take no card and no worker',
    nodes: [node('a'), node('close', { deps: ['a'], place: 'brain', worker: false, runMs: 0, lagMs: 70 }), node('b', { deps: ['close'] })],
    gpus: [gpu('g0', { maxWorkers: 1 })],
    makespan: 2070,
    peaks: [0],
    on: { a: 0, close: null, b: 0 },
  },
  {
    name: 'an llm task on a cold card: the model loads first (3 s), and the card holds it from then on',
    nodes: [node('gen', { taskClass: 'llm', model: 'big', holdMb: 100 })],
    gpus: [gpu('g0')],
    makespan: 4000,
    peaks: [3100],
  },
  {
    name: 'two llm tasks of one model on one card with one slot: one load, then one after the other',
    nodes: [node('x', { taskClass: 'llm', model: 'big' }), node('y', { taskClass: 'llm', model: 'big' })],
    gpus: [gpu('g0')],
    makespan: 5000,
    peaks: [3000],
  },
  {
    name: 'a card that holds the model already: no load; two slots run both at once',
    nodes: [node('x', { taskClass: 'llm', model: 'big' }), node('y', { taskClass: 'llm', model: 'big' })],
    gpus: [gpu('g0', { model: 'big', slots: 2 })],
    makespan: 1000,
    peaks: [3000],
  },
  {
    name: 'a script task goes to the cold card, not the one holding a model',
    nodes: [script('s')],
    gpus: [gpu('hot', { model: 'big' }), gpu('cold')],
    makespan: 1000,
    peaks: [3000, 600],
    on: { s: 1 },
  },
  {
    name: 'only a hot card, idle: it is cooled and takes the script task',
    nodes: [script('s')],
    gpus: [gpu('hot', { model: 'big' })],
    makespan: 1000,
    peaks: [3000],
    on: { s: 0 },
  },
  {
    name: 'a task that fits no card is counted as done at once; its dependants go on',
    nodes: [script('huge', { reserveMb: 5000 }), node('after', { deps: ['huge'] })],
    gpus: [gpu('g0')],
    makespan: 1000,
    peaks: [0],
    on: { huge: null, after: 0 },
  },
];

for (const c of cases) {
  test(`predict: ${c.name}`, () => {
    const p = predictSchedule(c.nodes, c.gpus, models);
    assert.equal(p.makespanMs, c.makespan);
    assert.deepEqual(p.gpus.map((g) => g.peakMb), c.peaks);
    if (c.tasks) assert.deepEqual(p.gpus.map((g) => g.tasks), c.tasks);
    for (const [id, g] of Object.entries(c.on ?? {})) assert.equal(p.schedule.find((s) => s.id === id)?.gpu, g, `${id} placed on card ${g}`);
  });
}

test('predict: model loads say which card loads which model and when', () => {
  const p = predictSchedule([node('a'), node('gen', { deps: ['a'], taskClass: 'llm', model: 'm' })], [gpu('g0'), gpu('g1')], models);
  assert.deepEqual(p.loads, [{ gpu: 0, model: 'm', atMs: 1000, ms: 3000 }]);
  assert.equal(p.makespanMs, 5000);
});

test('predict: a task no card can take is named with the reason', () => {
  const p = predictSchedule([script('huge', { reserveMb: 5000 })], [gpu('g0'), gpu('g1', { budgetMb: 4500 })], models);
  assert.deepEqual(p.unplaceable, [{ id: 'huge', reason: 'needs 5000 MB, more than the largest VRAM budget (4500 MB)' }]);
  assert.deepEqual(predictSchedule([script('a')], [], models).unplaceable, [{ id: 'a', reason: 'the rig has no GPU' }]);
});

test('predict: a dependency outside the graph is a bug, said as one', () => {
  assert.throws(() => predictSchedule([node('a', { deps: ['ghost'] })], [gpu('g0')], models), /bug: a depends on ghost/);
});

test('predict: a foreach of 20,000 items on two cards of 16 workers runs in waves of 32, each item after the scan', () => {
  const items = Array.from({ length: 20_000 }, (_, i) => node(`item.${i + 1}`, { deps: ['scan'] }));
  const close = node('close', { deps: items.map((n) => n.id), place: 'brain', worker: false, runMs: 0 });
  const p = predictSchedule([node('scan'), ...items, close, node('after', { deps: ['close'] })], [gpu('g0', { budgetMb: null }), gpu('g1', { budgetMb: null })], models);
  assert.equal(p.makespanMs, 1000 + Math.ceil(20_000 / 32) * 1000 + 1000);
  assert.deepEqual(p.gpus.map((g) => g.tasks), [10_002, 10_000]);
});

test('predict: a cycle is a bug, said as one', () => {
  assert.throws(() => predictSchedule([node('a', { deps: ['b'] }), node('b', { deps: ['a'] })], [gpu('g0')], models), /bug: the graph has a cycle/);
});
