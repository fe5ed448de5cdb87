// Every limit a plan is held to, in one place. A plan is data from anyone who can write to the
// mount, and the brain parses it in its own loop: each limit keeps the cost of reading one plan
// (time, memory, the size of its error messages) bounded whatever the plan holds. Each refusal
// names the limit and the figure found, so an author knows what to change.

export const PLAN_LIMITS = {
  /**
   * Bytes of plan.md. The largest plan the rig is meant for (10,000 tasks of a few fields each)
   * is under 1.5 MiB; reading and parsing 2 MiB takes a few seconds and ~200 MB at most.
   */
  planBytes: 2 * 1024 * 1024,
  /** Bytes of YAML front matter: it holds a title and a few notes; YAML parsing is slow on large input. */
  frontMatterBytes: 64 * 1024,
  /**
   * Tasks written in plan.md (foreach children are counted apart, per manifest). The brain
   * writes one file per task and scans them every cycle; past 10,000 a batch is better split.
   */
  tasks: 10_000,
  /**
   * Headings (lines starting with '#'), counted before markdown parsing: a task is one heading,
   * and some room is left for sections and groups. Refusing early keeps a file of 300,000 empty
   * headings from being parsed at all.
   */
  headings: 12_000,
  /**
   * Tasks in the longest dependency chain. Each link waits at least one brain cycle and one
   * claim before the next task is released, and a failure reaches the end of a chain one link
   * per cycle: a chain longer than this takes hours of waiting alone.
   */
  dependencyDepth: 1_000,
  /**
   * Block quotes and lists nested in one another on one line ('> > - > x'). The markdown parser's
   * cost grows with the square of this depth (50 KB of '>' stalled it for minutes); real plans
   * nest three or four deep.
   */
  nestingDepth: 32,
  /** Bytes of a foreach manifest: 100,000 items of ~150 bytes; JSON.parse of it runs in the brain's loop. */
  manifestBytes: 16 * 1024 * 1024,
  /** Items of one foreach manifest: the brain writes one task file per item. */
  manifestItems: 100_000,
  /** Problems listed for one plan; the rest are counted. Nobody fixes the 51st before the first. */
  problemsShown: 50,
  /** Characters of one problem message: long enough for any message plus a quoted value, clipped past it. */
  problemChars: 600,
  /** Names offered after "did you mean" for an unknown name. */
  suggestions: 3,
  /**
   * Work (edit-distance cells, one at least per comparison) spent on "did you mean" for one
   * plan, some tens of milliseconds: past it, unknown names are still reported, without
   * suggestions. 10,000 unknown names against 10,000 tasks would otherwise cost minutes.
   */
  suggestionCells: 2_000_000,
} as const;

/**
 * The parse of a submitted plan runs in a worker thread with these limits (the brain's loop and
 * `submit` never run it themselves), so a plan the other limits miss still cannot stall them.
 */
export interface ParseBudget {
  /** Milliseconds the worker may run (start, read, parse, validate); it is terminated at the limit. */
  timeMs: number;
  /** MB of V8 old-generation heap the worker may use; it is stopped when it needs more. */
  heapMb: number;
}

export const DEFAULT_PARSE_BUDGET: ParseBudget = {
  // A 10,000-task plan parses and validates in a few seconds; this leaves room for a slow or
  // busy machine and for starting the worker through the TypeScript loader.
  timeMs: 30_000,
  // A 10,000-task plan keeps under 50 MB alive and parses within a 96 MB heap (npm run
  // plan-stress); the limit leaves room for a slower collector, and stops a plan that would
  // take the brain's memory (a 2 MiB plan cannot need more unless the parser misbehaves).
  heapMb: 256,
};
