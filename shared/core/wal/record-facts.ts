/**
 * The facts walwatch takes from individual WAL records: transaction ends with their times, restore points,
 * end-of-recovery records, checkpoints and segment switches.
 *
 * Facts: `../shared/reference/walg-layout.md` §4.9 (`xact.h`, `pg_control.h`, `xlog_internal.h`).
 */
import { ResourceManager } from './record-header.js';
import { formatUnixMicros, unixMicrosOfTimestampTz } from './timestamp.js';

/** `XLOG` resource manager opcodes (`xl_info & 0xF0`). */
export const XlogOpcode = {
  checkpointShutdown: 0x00,
  checkpointOnline: 0x10,
  switch: 0x40,
  restorePoint: 0x70,
  endOfRecovery: 0x90,
  overwriteContRecord: 0xd0,
} as const;

/** Transaction resource manager opcodes (`xl_info & XLOG_XACT_OPMASK`). */
export const XactOpcode = {
  commit: 0x00,
  abort: 0x20,
  commitPrepared: 0x30,
  abortPrepared: 0x40,
} as const;
const XACT_OPMASK = 0x70;

/** A record that carries a time, as the reader reports it. */
export type TimedRecord =
  | {
      readonly kind: 'commit' | 'abort';
      readonly lsn: bigint;
      readonly xid: number;
      /** Whether the transaction was prepared (two-phase): `COMMIT PREPARED` / `ABORT PREPARED`. */
      readonly prepared: boolean;
      readonly time: string;
      readonly timeMicros: bigint;
    }
  | {
      readonly kind: 'restore-point';
      readonly lsn: bigint;
      readonly name: string;
      readonly time: string;
      readonly timeMicros: bigint;
    }
  | {
      readonly kind: 'end-of-recovery';
      readonly lsn: bigint;
      readonly timeline: number;
      readonly previousTimeline: number;
      readonly time: string;
      readonly timeMicros: bigint;
    }
  | {
      readonly kind: 'checkpoint';
      readonly lsn: bigint;
      readonly shutdown: boolean;
      readonly redoLsn: bigint;
      readonly time: string;
      readonly timeMicros: bigint;
    };

/** What one record told, or undefined for records without a time. */
export function describeTimedRecord(
  view: DataView,
  main: { readonly offset: number; readonly length: number },
  rmid: number,
  info: number,
  xid: number,
  lsn: bigint,
): TimedRecord | undefined {
  const at = main.offset;
  if (rmid === ResourceManager.transaction) {
    const opcode = info & XACT_OPMASK;
    const isCommit = opcode === XactOpcode.commit || opcode === XactOpcode.commitPrepared;
    const isAbort = opcode === XactOpcode.abort || opcode === XactOpcode.abortPrepared;
    if ((!isCommit && !isAbort) || main.length < 8) return undefined;
    const timeMicros = unixMicrosOfTimestampTz(view.getBigInt64(at, true));
    return {
      kind: isCommit ? 'commit' : 'abort',
      lsn,
      xid,
      prepared: opcode === XactOpcode.commitPrepared || opcode === XactOpcode.abortPrepared,
      time: formatUnixMicros(timeMicros),
      timeMicros,
    };
  }
  if (rmid !== ResourceManager.xlog) return undefined;
  const opcode = info & 0xf0;
  if (opcode === XlogOpcode.restorePoint && main.length >= 8) {
    const timeMicros = unixMicrosOfTimestampTz(view.getBigInt64(at, true));
    // rp_name is char[64] (MAXFNAMELEN) after the 8-byte time, NUL-terminated.
    const nameBytes = new Uint8Array(view.buffer, view.byteOffset + at + 8, Math.min(64, main.length - 8));
    const nul = nameBytes.indexOf(0);
    const name = new TextDecoder().decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul));
    return { kind: 'restore-point', lsn, name, time: formatUnixMicros(timeMicros), timeMicros };
  }
  if (opcode === XlogOpcode.endOfRecovery && main.length >= 16) {
    const timeMicros = unixMicrosOfTimestampTz(view.getBigInt64(at, true));
    return {
      kind: 'end-of-recovery',
      lsn,
      timeline: view.getUint32(at + 8, true),
      previousTimeline: view.getUint32(at + 12, true),
      time: formatUnixMicros(timeMicros),
      timeMicros,
    };
  }
  if (opcode === XlogOpcode.checkpointShutdown || opcode === XlogOpcode.checkpointOnline) {
    // CheckPoint.time (pg_time_t, Unix seconds): offset 56 in 10–11 (32-bit epoch + xid, struct of 80
    // bytes), 64 from 12 on (FullTransactionId, 88 bytes). The struct's size tells them apart.
    const timeOffset = main.length >= 88 ? 64 : main.length >= 80 ? 56 : undefined;
    if (timeOffset === undefined) return undefined;
    const timeMicros = view.getBigInt64(at + timeOffset, true) * 1_000_000n;
    return {
      kind: 'checkpoint',
      lsn,
      shutdown: opcode === XlogOpcode.checkpointShutdown,
      redoLsn: view.getBigUint64(at, true),
      time: formatUnixMicros(timeMicros),
      timeMicros,
    };
  }
  return undefined;
}
