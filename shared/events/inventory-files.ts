/**
 * The rows of one S3 Inventory data file (CSV, gzip) as listing observations, the same events a listing of
 * those objects gives: created, at the LastModifiedDate, with size and ETag. Keys in an inventory CSV are
 * URL-encoded (`+` for a space) and decoded here; versioned reports keep the latest version of each key that
 * is not a delete marker. The file is checked against the manifest's MD5 before any row is read.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parse } from 'csv-parse';
import type { ObjectEvent } from '../core/facts.js';
import type { InventoryFile } from './inventory-manifest.js';
import { ObjectAccessError } from './s3-objects.js';

/** A data file does not match its manifest, or a row cannot be read; nothing of the file is folded. */
export class InventoryFileError extends Error {
  override readonly name = 'InventoryFileError';
}

/**
 * Reads a data file's rows for `sourceBucket`, streaming: the compressed file is held, never all its rows.
 *
 * @throws {InventoryFileError} on a checksum mismatch or a malformed row
 * @throws {ObjectAccessError} when S3 cannot be read
 */
export async function* readInventoryFile(
  s3: S3Client,
  bucket: string,
  file: InventoryFile,
  fileSchema: readonly string[],
  sourceBucket: string,
): AsyncGenerator<ObjectEvent> {
  let body: Uint8Array;
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: file.key }));
    body = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (error) {
    throw new ObjectAccessError(`cannot read s3://${bucket}/${file.key}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const md5 = createHash('md5').update(body).digest('hex');
  if (md5 !== file.MD5checksum.toLowerCase())
    throw new InventoryFileError(
      `s3://${bucket}/${file.key} has MD5 ${md5}, the manifest says ${file.MD5checksum}`,
    );
  const column = (name: string) => fileSchema.indexOf(name);
  const at = {
    bucket: column('Bucket'),
    key: column('Key'),
    size: column('Size'),
    modified: column('LastModifiedDate'),
    etag: column('ETag'),
    latest: column('IsLatest'),
    deleteMarker: column('IsDeleteMarker'),
  };
  const rows = Readable.from([body])
    .pipe(createGunzip())
    .pipe(parse({ relax_column_count: false }));
  let line = 0;
  try {
    for await (const row of rows as AsyncIterable<string[]>) {
      line += 1;
      if (row.length !== fileSchema.length)
        throw new InventoryFileError(
          `${file.key} row ${line} has ${row.length} fields, the schema ${fileSchema.length}`,
        );
      if (row[at.bucket] !== sourceBucket) continue;
      if (at.latest >= 0 && row[at.latest] === 'false') continue;
      if (at.deleteMarker >= 0 && row[at.deleteMarker] === 'true') continue;
      const modified = Date.parse(row[at.modified] as string);
      const size = Number(row[at.size]);
      if (!Number.isFinite(modified) || !Number.isFinite(size))
        throw new InventoryFileError(`${file.key} row ${line}: no LastModifiedDate or Size`);
      yield {
        key: decodeKey(row[at.key] as string, file.key, line),
        type: 'created',
        at: modified,
        size,
        etag: row[at.etag] || null,
        sequencer: null,
      };
    }
  } catch (error) {
    if (error instanceof InventoryFileError) throw error;
    throw new InventoryFileError(`${file.key} cannot be read as gzip CSV: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function decodeKey(encoded: string, file: string, line: number): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch (error) {
    throw new InventoryFileError(
      `${file} row ${line}: the key ${JSON.stringify(encoded)} is not URL-encoded`,
      { cause: error },
    );
  }
}
