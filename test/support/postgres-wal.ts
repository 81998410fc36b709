import { POSTGRES_BIN, runCommand } from './postgres-exec.js';

// The harness converts LSNs itself instead of importing walwatch's own LSN module: expected values in
// tests must not be computed by the code under test. PostgreSQL's text form is the reference.

/** Converts PostgreSQL's `%X/%X` text (any padding or case) to a 64-bit number. */
export function parsePgLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`not an LSN: '${text}'`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

/** Formats a 64-bit position the way PostgreSQL's `pg_lsn` output does: `%X/%X`, uppercase, unpadded. */
export function formatPgLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Returns the LSN where WAL file `fileName` (24 hex digits) ends, i.e. where the next segment starts. */
export function computeSegmentEndLsn(fileName: string, walSegmentSize: number): bigint {
  const match = /^[0-9A-F]{8}([0-9A-F]{8})([0-9A-F]{8})$/.exec(fileName);
  if (!match) throw new Error(`not a WAL file name: '${fileName}'`);
  const size = BigInt(walSegmentSize);
  const segno = BigInt(`0x${match[1]}`) * (0x100000000n / size) + BigInt(`0x${match[2]}`);
  return (segno + 1n) * size;
}

/** One record as `pg_waldump` prints it. */
export interface WalRecord {
  /** Resource manager name, e.g. `XLOG`, `Transaction`, `Heap`. */
  readonly rmgr: string;
  /** Start of the record, `%X/%X`. */
  readonly lsn: string;
  /** Start of the previous record. */
  readonly prev: string;
  /** `xl_tot_len`. */
  readonly totalLength: number;
  readonly xid: number;
  /** `pg_waldump`'s description, e.g. `SWITCH`, `COMMIT 2026-11-24 …`, `END_OF_RECOVERY tli 2; …`. */
  readonly description: string;
}

/** What `pg_waldump` read over a range. */
export interface WalDump {
  readonly records: readonly WalRecord[];
  /**
   * Where valid WAL ended when `pg_waldump` stopped at an invalid or missing record (the end of the last
   * record), taken from its closing error message; `undefined` when it stopped at the requested end.
   */
  readonly endOfWal: string | undefined;
  /** `pg_waldump`'s closing error message, if any. */
  readonly stopReason: string | undefined;
}

/** Options of {@link dumpWal}. */
export interface DumpWalOptions {
  /** Folder holding uncompressed WAL files, e.g. a data directory's `pg_wal`. */
  readonly walDir: string;
  /** Timeline whose files are read. @default 1 */
  readonly timeline?: number;
  /** First record at or after this LSN. */
  readonly startLsn: string;
  /**
   * Stop before this LSN. Without it `pg_waldump` reads to the end of valid WAL, and when that is the end
   * of a file whose successor is missing it retries opening the successor for about 5 s: give an end.
   * @default the end of valid WAL
   */
  readonly endLsn?: string;
}

const RECORD_LINE =
  /^rmgr: (\S+)\s+len \(rec\/tot\):\s*\d+\/\s*(\d+), tx:\s*(\d+), lsn: ([0-9A-F]+\/[0-9A-F]+), prev ([0-9A-F]+\/[0-9A-F]+), desc: (.*)$/;

/** Runs `pg_waldump` over a range and returns its records (LSNs normalised to `%X/%X`). */
export async function dumpWal(options: DumpWalOptions): Promise<WalDump> {
  const args = [
    '--path',
    options.walDir,
    '--timeline',
    String(options.timeline ?? 1),
    '--start',
    options.startLsn,
  ];
  if (options.endLsn) args.push('--end', options.endLsn);
  // Exit 1 with an error message is how pg_waldump reports reaching the end of valid WAL.
  const result = await runCommand(`${POSTGRES_BIN}/pg_waldump`, args, { allowedExitCodes: [0, 1] });
  const records: WalRecord[] = [];
  for (const line of result.stdout.toString('utf8').split('\n')) {
    const match = RECORD_LINE.exec(line);
    if (!match) continue;
    const [, rmgr, totalLength, xid, lsn, prev, description] = match as unknown as string[];
    records.push({
      rmgr: String(rmgr),
      lsn: formatPgLsn(parsePgLsn(String(lsn))),
      prev: formatPgLsn(parsePgLsn(String(prev))),
      totalLength: Number(totalLength),
      xid: Number(xid),
      description: String(description).trim(),
    });
  }
  const stopReason = /pg_waldump: error: (.*)/.exec(result.stderr)?.[1];
  if (result.exitCode !== 0 && stopReason === undefined) {
    throw new Error(`pg_waldump failed: ${result.stderr}`);
  }
  // e.g. "error in WAL record at 0/1B6A9D0: invalid record length at 0/1B6AA08: wanted 24, got 0"
  const end = stopReason ? /: [^:]* at ([0-9A-F]+\/[0-9A-F]+)/.exec(stopReason)?.[1] : undefined;
  return { records, endOfWal: end ? formatPgLsn(parsePgLsn(end)) : undefined, stopReason };
}
