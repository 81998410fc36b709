/**
 * Writes an S3 Inventory report of a bucket the way S3 publishes one (CSV, gzip): the bucket's current
 * objects as rows (keys URL-encoded, `+` for a space), split into data files under
 * `<prefix>/<source bucket>/<config id>/data/`, and `<YYYY-MM-DDTHH-MMZ>/manifest.json` with the files' MD5
 * checksums, then `manifest.checksum`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { InventoryLocation } from '../../shared/config/inventory-config.js';
import { listObjectsAfter } from '../../shared/events/s3-objects.js';

/** What to write. */
export interface InventoryReportSpec {
  readonly sourceBucket: string;
  readonly destinationBucket: string;
  /** The destination prefix of the configuration (no trailing `/`). */
  readonly prefix: string;
  readonly configId: string;
  /** When the report's scan began. */
  readonly createdAt: number;
  /** Data files the rows are dealt into, round robin (as S3's are in no key order). */
  readonly files: number;
  /** Leave out `manifest.checksum`, as a delivery in progress does. */
  readonly withoutChecksum?: boolean;
}

/** Where the report's configuration folder is, and the manifest's key. */
export interface WrittenReport {
  readonly location: InventoryLocation;
  readonly manifestKey: string;
  readonly rows: number;
}

/** URL-encodes a key as inventory CSVs do: `+` for a space. */
function encodeKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+');
}

/** Lists the source bucket and writes its report. */
export async function writeInventoryReport(s3: S3Client, spec: InventoryReportSpec): Promise<WrittenReport> {
  const base = `${spec.prefix}/${spec.sourceBucket}/${spec.configId}/`;
  const rows: string[][] = Array.from({ length: spec.files }, () => []);
  let count = 0;
  for await (const object of listObjectsAfter(s3, spec.sourceBucket, '')) {
    const fields = [
      spec.sourceBucket,
      encodeKey(object.key),
      String(object.size ?? 0),
      new Date(object.at).toISOString(),
      (object.etag ?? '').replace(/"/g, ''),
      'STANDARD',
    ];
    (rows[count % spec.files] as string[]).push(
      fields.map((field) => `"${field.replace(/"/g, '""')}"`).join(','),
    );
    count += 1;
  }
  const files = [];
  for (const lines of rows) {
    const body = gzipSync(lines.map((line) => `${line}\n`).join(''));
    const key = `${base}data/${randomUUID()}.csv.gz`;
    await s3.send(new PutObjectCommand({ Bucket: spec.destinationBucket, Key: key, Body: body }));
    files.push({ key, size: body.byteLength, MD5checksum: createHash('md5').update(body).digest('hex') });
  }
  const stamp = new Date(spec.createdAt).toISOString().slice(0, 16).replace(':', '-');
  const manifest = JSON.stringify(
    {
      sourceBucket: spec.sourceBucket,
      destinationBucket: `arn:aws:s3:::${spec.destinationBucket}`,
      version: '2016-11-30',
      creationTimestamp: String(spec.createdAt),
      fileFormat: 'CSV',
      fileSchema: 'Bucket, Key, Size, LastModifiedDate, ETag, StorageClass',
      files,
    },
    null,
    4,
  );
  const manifestKey = `${base}${stamp}Z/manifest.json`;
  await s3.send(new PutObjectCommand({ Bucket: spec.destinationBucket, Key: manifestKey, Body: manifest }));
  if (!spec.withoutChecksum) {
    await s3.send(
      new PutObjectCommand({
        Bucket: spec.destinationBucket,
        Key: `${base}${stamp}Z/manifest.checksum`,
        Body: createHash('md5').update(manifest).digest('hex'),
      }),
    );
  }
  return { location: { bucket: spec.destinationBucket, prefix: base }, manifestKey, rows: count };
}
