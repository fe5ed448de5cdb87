// Prometheus text exposition format (version 0.0.4), written by hand: it is a few lines of
// rules, and the brain and agents only ever write it. Pure: families in, text out.
// Rules kept here: one HELP and one TYPE line per family, before its samples; label values
// escape \, " and newline; HELP text escapes \ and newline; counters are named *_total;
// histograms give cumulative _bucket{le} lines ending at +Inf, then _sum and _count.

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

export interface HistogramSeries {
  labels?: Labels;
  /** Upper bounds, ascending, without +Inf. */
  buckets: readonly number[];
  /** Observations at or under each bound (not cumulative), then those over the last bound. */
  counts: readonly number[];
  sum: number;
}

export type Family =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: readonly Sample[] }
  | { name: string; help: string; type: 'histogram'; series: readonly HistogramSeries[] };

/** A label value as the format wants it inside double quotes. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A number as Prometheus reads it: NaN and the infinities by name, else JavaScript's shortest form. */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra) pairs.push(extra);
  if (!pairs.length) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** The text of some families, each with its HELP and TYPE lines; ends with a newline. */
export function formatFamilies(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== 'histogram') {
      for (const s of f.samples) lines.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
      continue;
    }
    for (const h of f.series) {
      let cumulative = 0;
      h.buckets.forEach((le, i) => {
        cumulative += h.counts[i] ?? 0;
        lines.push(`${f.name}_bucket${labelText(h.labels, ['le', formatValue(le)])} ${cumulative}`);
      });
      const count = h.counts.reduce((a, b) => a + b, 0);
      lines.push(`${f.name}_bucket${labelText(h.labels, ['le', '+Inf'])} ${count}`);
      lines.push(`${f.name}_sum${labelText(h.labels)} ${formatValue(h.sum)}`);
      lines.push(`${f.name}_count${labelText(h.labels)} ${count}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** An empty histogram series over these bounds (seconds, ascending). */
export function emptyHistogram(buckets: readonly number[], labels?: Labels): HistogramSeries & { counts: number[] } {
  return { labels, buckets, counts: new Array<number>(buckets.length + 1).fill(0), sum: 0 };
}

/** Adds one observation to a histogram series (in place: the series is the caller's accumulator). */
export function observe(h: HistogramSeries & { counts: number[] }, value: number): void {
  const i = h.buckets.findIndex((le) => value <= le);
  h.counts[i === -1 ? h.buckets.length : i]! += 1;
  h.sum += value;
}

/**
 * Joins expositions from several files into one: the samples of a family named in more than
 * one (the agents' families, told apart by their labels) go under one HELP and TYPE, as the
 * format requires. Comment lines other than a family's HELP and TYPE are dropped.
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const text of texts) {
    let current: { head: string[]; samples: string[] } | null = null;
    for (const line of text.split('\n')) {
      const head = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (head) {
        const name = head[2]!;
        current = families.get(name) ?? { head: [], samples: [] };
        families.set(name, current);
        if (!current.head.some((h) => h.startsWith(`# ${head[1]} `))) current.head.push(line);
      } else if (line && !line.startsWith('#') && current) current.samples.push(line);
    }
  }
  const out = [...families.values()].flatMap((f) => [...f.head, ...f.samples]);
  return out.length ? out.join('\n') + '\n' : '';
}
