/**
 * Timeline history files (`<8hex>.history`): the ancestry of a timeline.
 *
 * Each non-blank, non-`#` line is `parentTLI<TAB>switchLSN<TAB>reason`: timeline `parentTLI` ended (exclusive)
 * at `switchLSN`. The last line names the direct parent. Facts: walg-layout.md §4.3 (`timeline.c`).
 */
import { parseLsn } from './lsn.js';

/** One ancestor record: `parent` ran until `switchLsn` (decimal string, exact). */
export interface HistoryEntry {
  readonly parent: number;
  readonly switchLsn: string;
  readonly reason: string;
}

/** Parsed history of a timeline, or the reason it could not be read. */
export type HistoryParse =
  | { readonly ok: true; readonly entries: HistoryEntry[] }
  | { readonly ok: false; readonly error: string };

const RECORD = /^(\d+)\s+([0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8})(?:\s+(.*))?$/;

/**
 * Parses the text of the history file of `timeline`. Like PostgreSQL's `readTimeLineHistory` it requires
 * increasing parent timelines, all below `timeline`, and LSNs that do not go backwards.
 *
 * @example parseHistory('1\t0/F001A0\tno recovery target specified\n', 2)
 * // { ok: true, entries: [{ parent: 1, switchLsn: '15729056', reason: 'no recovery target specified' }] }
 */
export function parseHistory(text: string, timeline: number): HistoryParse {
  const entries: HistoryEntry[] = [];
  let previousLsn = -1n;
  const lines = text.split('\n');
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = RECORD.exec(line);
    if (!match)
      return {
        ok: false,
        error: `line ${index + 1} is not "parentTLI<TAB>LSN<TAB>reason": ${JSON.stringify(raw.slice(0, 80))}`,
      };
    const parent = Number(match[1]);
    const lsn = parseLsn(match[2] as string) as bigint;
    const last = entries.at(-1);
    if (parent >= timeline)
      return { ok: false, error: `line ${index + 1}: parent timeline ${parent} is not below ${timeline}` };
    if (last && parent <= last.parent)
      return { ok: false, error: `line ${index + 1}: timeline IDs must be increasing` };
    if (lsn < previousLsn) return { ok: false, error: `line ${index + 1}: switch LSN goes backwards` };
    previousLsn = lsn;
    entries.push({ parent, switchLsn: lsn.toString(), reason: match[3]?.trim() ?? '' });
  }
  if (entries.length === 0) return { ok: false, error: 'no timeline records' };
  return { ok: true, entries };
}
