import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describePostgresBinaries,
  findPostgresBinaries,
  serverMajor,
} from '../../../shared/local/postgres-binaries.js';

const PG15 = '/usr/lib/postgresql/15/bin';

describe('findPostgresBinaries', () => {
  let empty: string;
  beforeAll(async () => {
    empty = await mkdtemp(join(tmpdir(), 'walwatch-no-pg-'));
  });
  afterAll(async () => {
    await rm(empty, { recursive: true, force: true });
  });

  it('reads the major version of a real server folder', async () => {
    expect(await serverMajor(PG15)).toBe(15);
  });

  it('finds the Debian install folders by major version', async () => {
    const found = await findPostgresBinaries(undefined, { PATH: empty });
    expect(found.get(15)).toBe(PG15);
    expect(describePostgresBinaries(found)).toContain(`15 (${PG15})`);
  });

  it('examines only the folder given, and finds nothing in a folder without a server', async () => {
    expect([...(await findPostgresBinaries(PG15))]).toEqual([[15, PG15]]);
    const none = await findPostgresBinaries(empty);
    expect(none.size).toBe(0);
    expect(describePostgresBinaries(none)).toBe('none');
  });
});
