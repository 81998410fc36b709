import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  decodeDocument,
  MAX_DOCUMENT_BYTES,
  MAX_DOCUMENT_READ_BYTES,
} from '../../../shared/codec/document.js';
import { parseSentinel } from '../../../shared/core/sentinel.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A WAL-G 1.1 sentinel: the fields of today's plus the backup's file list inline, one entry per file. */
function walg11Sentinel(files: number): string {
  const entries = Array.from(
    { length: files },
    (_, i) =>
      `"base/16384/${100_000 + i}":{"IsIncremented":false,"IsSkipped":false,"MTime":"2021-06-01T02:00:0${i % 10}.123456789Z","UpdatesCount":0}`,
  );
  const sets = Array.from(
    { length: Math.ceil(files / 1000) },
    (_, i) => `"part_${i + 1}.tar.lz4":["base/16384/${100_000 + i}"]`,
  );
  return (
    `{"DeltaFromLSN":0,"LSN":3325915299880,"PgVersion":130004,"FinishLSN":18446744073709551615,` +
    `"Files":{${entries.join(',')}},"TarFileSets":{${sets.join(',')}},` +
    `"SystemIdentifier":7507672962298572862,"UncompressedSize":2604967632,"CompressedSize":858502390,` +
    `"StartTime":"2021-06-01T02:00:01.793015Z","FinishTime":"2021-06-01T02:00:18.538578Z","Hostname":"superpg"}`
  );
}

describe('decodeDocument', () => {
  it('returns a small document as it is', async () => {
    const text = '1\t0/3000158\tno recovery target specified\n';
    expect(await decodeDocument(encode(text), 'none')).toEqual({ text });
  });

  it('keeps a large WAL-G 1.1 sentinel without its file list, every number exact', async () => {
    const text = walg11Sentinel(20_000);
    expect(text.length).toBeGreaterThan(MAX_DOCUMENT_BYTES * 4);
    const read = await decodeDocument(gzipSync(encode(text)), 'gzip');
    expect('text' in read).toBe(true);
    const slim = (read as { text: string }).text;
    expect(slim.length).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES);
    expect(slim).not.toContain('"Files"');
    expect(slim).not.toContain('"TarFileSets"');
    expect(slim).toContain('"FinishLSN":18446744073709551615');
    expect(parseSentinel(slim)).toMatchObject({
      ok: true,
      value: {
        startLsn: '3325915299880',
        finishLsn: '18446744073709551615',
        systemIdentifier: '7507672962298572862',
        compressedSize: 858502390,
        pgVersion: 130004,
      },
    });
  });

  it('reports a large document that is not a sentinel with a file list as too large', async () => {
    const history = `${'1\t0/3000158\tno recovery target specified\n'.repeat(10_000)}`;
    const array = `[${'1,'.repeat(200_000)}1]`;
    const object = `{"Padding":"${'x'.repeat(MAX_DOCUMENT_BYTES)}"}`;
    for (const text of [history, array, object]) {
      const read = await decodeDocument(encode(text), 'none');
      expect(read, text.slice(0, 20)).toEqual({ error: expect.stringContaining('ContentTooLargeError') });
    }
    expect((await decodeDocument(encode(object), 'none')) as { error: string }).toEqual({
      error: expect.stringContaining('still too many without its file list'),
    });
  });

  it('refuses to read more than the read limit', async () => {
    const huge = gzipSync(new Uint8Array(MAX_DOCUMENT_READ_BYTES + 1));
    expect(await decodeDocument(huge, 'gzip')).toEqual({
      error: expect.stringContaining('ContentTooLargeError'),
    });
  });
});
