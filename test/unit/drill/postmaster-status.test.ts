import { describe, expect, it } from 'vitest';
import { parsePostmasterStatus } from '../../../shared/drill/restore-server.js';

/** A `postmaster.pid` as PostgreSQL 15 writes it, with `status` on its eighth line. */
const pidFile = (status: string): string =>
  ['4242', '/scratch/data', '1764744000', '5432', '/scratch/socket', '', '  5432001      3', status, ''].join(
    '\n',
  );

describe('parsePostmasterStatus', () => {
  it.each([
    ['starting', 'starting'],
    ['ready   ', 'ready'],
    ['standby ', 'standby'],
    ['stopping', 'stopping'],
  ] as const)('reads the padded status %j as %s', (line, status) => {
    expect(parsePostmasterStatus(pidFile(line))).toBe(status);
  });

  it('returns null before the postmaster has written its status line', () => {
    expect(parsePostmasterStatus('4242\n/scratch/data\n1764744000\n5432\n\n')).toBeNull();
  });

  it('returns null for a status it does not know', () => {
    expect(parsePostmasterStatus(pidFile('paused  '))).toBeNull();
  });
});
