// A small seeded pseudo-random generator (mulberry32). The chaos run draws every choice it
// makes (plan shapes, fault times, targets, restart delays, garbage bytes) from one seed, so
// a failing trial can be run again with the same faults: `npm run chaos -- --seed S --trials 1`.
// The rig's own timing is not seeded; a replay repeats the faults, not every interleaving.

export class Rng {
  readonly seed: number;
  private state: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number from lo to hi, both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: no items to pick from');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: [['brain', 1], ['worker', 3]]. */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.next() * total;
    for (const [v, w] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1]![0];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }

  hex(n: number): string {
    return Array.from(this.bytes(n), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  /**
   * An independent stream for one purpose. Choices made at run time (how often a target pick
   * had to wait) then cannot shift the fault schedule or the plans drawn from another stream.
   * Depends only on the seed and the label, not on draws made so far.
   */
  fork(label: string): Rng {
    let h = (this.seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Rng(h);
  }
}

/** Trial i of a run with seed S uses seed S + i: `--seed S+i --trials 1` replays it alone. */
export function trialSeed(runSeed: number, index: number): number {
  return (runSeed + index) >>> 0;
}
