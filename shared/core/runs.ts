/**
 * Sets of segment numbers kept as sorted, disjoint, non-adjacent runs `[first, last]`.
 *
 * An archive of a million segments with a handful of holes is a handful of runs, which is what lets the
 * state of a cluster live in a few small items instead of one item per segment.
 */

/** An inclusive run of consecutive segment numbers. */
export type Run = [first: number, last: number];

/** Index of the run containing `n`, or -1. Binary search over sorted runs. */
export function findRun(runs: readonly Run[], n: number): number {
  let low = 0;
  let high = runs.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const run = runs[mid] as Run;
    if (n < run[0]) high = mid - 1;
    else if (n > run[1]) low = mid + 1;
    else return mid;
  }
  return -1;
}

/** Index of the first run whose `last` is at or after `n` (runs.length when none). */
export function firstRunEndingAtOrAfter(runs: readonly Run[], n: number): number {
  let low = 0;
  let high = runs.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if ((runs[mid] as Run)[1] < n) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Whether `n` is in the set. */
export function hasNumber(runs: readonly Run[], n: number): boolean {
  return findRun(runs, n) !== -1;
}

/** Adds `n` in place, merging with neighbours. Returns false when it was already there. */
export function addNumber(runs: Run[], n: number): boolean {
  const at = firstRunEndingAtOrAfter(runs, n - 1);
  const run = runs[at];
  if (run && run[0] <= n && n <= run[1]) return false;
  const joinsBefore = run !== undefined && run[1] === n - 1;
  const nextIndex = joinsBefore ? at + 1 : at;
  const next = runs[nextIndex];
  const joinsAfter = next !== undefined && next[0] === n + 1;
  if (joinsBefore && joinsAfter) {
    run[1] = next[1];
    runs.splice(nextIndex, 1);
  } else if (joinsBefore) {
    run[1] = n;
  } else if (joinsAfter) {
    next[0] = n;
  } else {
    runs.splice(nextIndex, 0, [n, n]);
  }
  return true;
}

/** Removes `n` in place, splitting its run. Returns false when it was not there. */
export function removeNumber(runs: Run[], n: number): boolean {
  const at = findRun(runs, n);
  if (at === -1) return false;
  const run = runs[at] as Run;
  if (run[0] === n && run[1] === n) runs.splice(at, 1);
  else if (run[0] === n) run[0] = n + 1;
  else if (run[1] === n) run[1] = n - 1;
  else runs.splice(at, 1, [run[0], n - 1], [n + 1, run[1]]);
  return true;
}

/** Builds runs from numbers sorted ascending (duplicates allowed). */
export function runsFromSorted(sorted: ArrayLike<number>): Run[] {
  const runs: Run[] = [];
  let current: Run | undefined;
  for (let i = 0; i < sorted.length; i++) {
    const n = sorted[i] as number;
    if (current && n <= current[1] + 1) {
      if (n > current[1]) current[1] = n;
    } else {
      current = [n, n];
      runs.push(current);
    }
  }
  return runs;
}

/** How many numbers the runs hold. */
export function countNumbers(runs: readonly Run[]): number {
  let total = 0;
  for (const [first, last] of runs) total += last - first + 1;
  return total;
}

/** How many numbers of the runs fall in `[from, to]`. */
export function countInRange(runs: readonly Run[], from: number, to: number): number {
  let total = 0;
  for (let i = firstRunEndingAtOrAfter(runs, from); i < runs.length; i++) {
    const [first, last] = runs[i] as Run;
    if (first > to) break;
    total += Math.min(last, to) - Math.max(first, from) + 1;
  }
  return total;
}

/** The runs clipped to `[from, to]`. */
export function clipRuns(runs: readonly Run[], from: number, to: number): Run[] {
  const clipped: Run[] = [];
  for (let i = firstRunEndingAtOrAfter(runs, from); i < runs.length; i++) {
    const [first, last] = runs[i] as Run;
    if (first > to) break;
    clipped.push([Math.max(first, from), Math.min(last, to)]);
  }
  return clipped;
}
