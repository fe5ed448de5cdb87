// Sorting ids, paths and ISO times: by code point, not localeCompare. They are ASCII, where
// code-point order is the order wanted (ISO times sort as times, batch ids by submission), and
// a process's first localeCompare starts ICU's collator: about 10 ms of CPU, more than a short
// command such as forge status spends on the rest of its sorting.

/** -1, 0 or 1 as `a` sorts before, with or after `b` by UTF-16 code unit. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
