// The dependency graph of a plan's tasks: its cycles and its longest chain. Both are linear in
// tasks plus dependencies and use no recursion, so a chain of any length cannot overflow the
// stack (a recursive walk fails near 10,000 links).
import type { PlanTaskSpec } from './types.ts';

/** Each task's known dependencies, once each, as indexes into the names (in plan order: byName keeps the first task of each name). */
function edgesOf(byName: Map<string, PlanTaskSpec>): { names: string[]; edges: number[][] } {
  const index = new Map<string, number>();
  const names: string[] = [];
  for (const name of byName.keys()) {
    index.set(name, names.length);
    names.push(name);
  }
  const edges = names.map((name) => {
    const out = new Set<number>();
    for (const d of byName.get(name)!.depends_on) {
      const j = index.get(d);
      if (j !== undefined) out.add(j);
    }
    return [...out];
  });
  return { names, edges };
}

/** Strongly connected groups (Tarjan's algorithm, with an explicit stack), each as node indexes. */
function stronglyConnected(edges: number[][]): number[][] {
  const n = edges.length;
  const idx = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const groups: number[][] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (idx[root] !== -1) continue;
    // Each frame: a node and how many of its edges were followed.
    const frames: Array<[number, number]> = [[root, 0]];
    idx[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (frames.length) {
      const frame = frames.at(-1)!;
      const [v, e] = frame;
      if (e < edges[v]!.length) {
        frame[1]++;
        const w = edges[v]![e]!;
        if (idx[w] === -1) {
          idx[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          frames.push([w, 0]);
        } else if (onStack[w]) {
          low[v] = Math.min(low[v]!, idx[w]!);
        }
        continue;
      }
      frames.pop();
      if (frames.length) {
        const parent = frames.at(-1)![0];
        low[parent] = Math.min(low[parent]!, low[v]!);
      }
      if (low[v] === idx[v]) {
        const group: number[] = [];
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = false;
          group.push(w);
        } while (w !== v);
        groups.push(group);
      }
    }
  }
  return groups;
}

/**
 * Every strongly connected group of tasks that waits on itself, as one loop starting at the
 * group's task that comes first in the plan: [a, b, c, a] means a waits for b, b for c, c for a.
 */
export function findCycles(byName: Map<string, PlanTaskSpec>): string[][] {
  const { names, edges } = edgesOf(byName);
  const cycles: number[][] = [];
  for (const group of stronglyConnected(edges)) {
    const start = group.reduce((a, b) => Math.min(a, b)); // indexes are in plan order
    if (group.length === 1 && !edges[start]!.includes(start)) continue;
    const members = new Set(group);
    // Shortest loop from start back to start inside the group (breadth first, plan order).
    const prev = new Map<number, number>();
    const queue = [start];
    let closing: number | null = null;
    for (let head = 0; head < queue.length && closing === null; head++) {
      const v = queue[head]!;
      for (const w of [...edges[v]!].sort((a, b) => a - b)) {
        if (!members.has(w)) continue;
        if (w === start) {
          closing = v;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const loop: number[] = [];
    for (let v = closing!; v !== start; v = prev.get(v)!) loop.push(v);
    cycles.push([start, ...loop.reverse(), start]);
  }
  return cycles.sort((a, b) => a[0]! - b[0]!).map((c) => c.map((i) => names[i]!));
}

/**
 * The longest chain of tasks each waiting for the next, outside any cycle (cycles are reported
 * apart), as task names from the last to run back to the first: its length is the depth.
 */
export function longestChain(byName: Map<string, PlanTaskSpec>): string[] {
  const { names, edges } = edgesOf(byName);
  const n = names.length;
  // Kahn's algorithm over "v depends on w" edges: a task's depth is 1 + its deepest dependency.
  const waitingOn = edges.map((e) => e.length);
  const dependents: number[][] = names.map(() => []);
  edges.forEach((deps, v) => deps.forEach((w) => dependents[w]!.push(v)));
  const depth = new Array<number>(n).fill(1);
  const via = new Array<number>(n).fill(-1);
  const ready = names.map((_, i) => i).filter((i) => waitingOn[i] === 0);
  for (let head = 0; head < ready.length; head++) {
    const w = ready[head]!;
    for (const v of dependents[w]!) {
      if (depth[w]! + 1 > depth[v]!) [depth[v], via[v]] = [depth[w]! + 1, w];
      if (--waitingOn[v]! === 0) ready.push(v);
    }
  }
  let end = -1;
  for (const v of ready) if (end === -1 || depth[v]! > depth[end]!) end = v;
  const chain: string[] = [];
  for (let v = end; v !== -1; v = via[v]!) chain.push(names[v]!);
  return chain;
}
