/**
 * The newest S3 Inventory report of the archive bucket, found and read as AWS publishes it:
 *
 * ```
 * <dest prefix>/<source bucket>/<config id>/<YYYY-MM-DDTHH-MMZ>/manifest.json   files, fileSchema, checksums
 * <dest prefix>/<source bucket>/<config id>/<YYYY-MM-DDTHH-MMZ>/manifest.checksum   MD5 of manifest.json
 * <dest prefix>/<source bucket>/<config id>/data/<uuid>.csv.gz                    the rows
 * ```
 *
 * A report counts once its `manifest.checksum` is there and matches `manifest.json` (S3 writes the
 * manifest last); a folder without it is a delivery in progress and the one before is taken. SDK errors are
 * translated here.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { InventoryLocation } from '../config/inventory-config.js';
import { ObjectAccessError } from './s3-objects.js';

/** One data file of a report. */
export interface InventoryFile {
  readonly key: string;
  readonly size: number;
  readonly MD5checksum: string;
}

/** A report's manifest. */
export interface InventoryManifest {
  /** Where it was read from. */
  readonly key: string;
  readonly sourceBucket: string;
  /** Bucket name (the manifest gives an ARN). */
  readonly destinationBucket: string;
  /** Epoch ms the report's scan began. */
  readonly creationTimestamp: number;
  readonly fileFormat: 'CSV';
  /** Column names of the data files, in order. */
  readonly fileSchema: readonly string[];
  readonly files: readonly InventoryFile[];
}

/** The newest report, or why there is none to use. */
export type ManifestLookup =
  | { readonly kind: 'found'; readonly manifest: InventoryManifest }
  | { readonly kind: 'stale'; readonly manifest: InventoryManifest; readonly ageMs: number }
  | { readonly kind: 'missing'; readonly reason: string };

/**
 * Oldest report a full reconcile uses: a daily inventory is at most a day old, plus the hours S3 takes to
 * deliver it; older means deliveries stopped, and listing is the better truth.
 */
export const DEFAULT_MAX_MANIFEST_AGE_MS = 48 * 3_600_000;

/** Columns a report needs: the rest of the schema is skipped. */
export const REQUIRED_COLUMNS = ['Bucket', 'Key', 'Size', 'LastModifiedDate', 'ETag'] as const;

const MANIFEST = z.object({
  sourceBucket: z.string().min(1),
  destinationBucket: z.string().min(1),
  creationTimestamp: z.union([z.string().regex(/^\d+$/), z.number().int()]),
  fileFormat: z.string(),
  fileSchema: z.string(),
  files: z.array(
    z.object({ key: z.string().min(1), size: z.number().int().nonnegative(), MD5checksum: z.string() }),
  ),
});

const REPORT_FOLDER = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z\/$/;

/**
 * Finds the newest complete report under `location` and says whether it is recent enough.
 *
 * @example
 * const lookup = await findNewestManifest(s3, { bucket: 'inv', prefix: 'inventory/wal/daily/' }, { now: Date.now() });
 */
export async function findNewestManifest(
  s3: S3Client,
  location: InventoryLocation,
  options: { readonly now: number; readonly maxAgeMs?: number },
): Promise<ManifestLookup> {
  const folders = (await listFolders(s3, location))
    .filter((folder) => REPORT_FOLDER.test(folder))
    .sort()
    .reverse();
  if (folders.length === 0)
    return {
      kind: 'missing',
      reason: `no inventory report under s3://${location.bucket}/${location.prefix}`,
    };
  // A delivery in progress lacks its checksum: look a few reports back, not through years of them.
  for (const folder of folders.slice(0, 3)) {
    const base = `${location.prefix}${folder}`;
    const checksum = await readText(s3, location.bucket, `${base}manifest.checksum`);
    if (checksum === undefined) continue;
    const body = await readText(s3, location.bucket, `${base}manifest.json`);
    if (body === undefined) continue;
    if (createHash('md5').update(body).digest('hex') !== checksum.trim().toLowerCase()) {
      return {
        kind: 'missing',
        reason: `s3://${location.bucket}/${base}manifest.json does not match its manifest.checksum`,
      };
    }
    const parsed = parseManifest(body, `${base}manifest.json`);
    if ('reason' in parsed) return { kind: 'missing', reason: parsed.reason };
    const ageMs = options.now - parsed.creationTimestamp;
    if (ageMs > (options.maxAgeMs ?? DEFAULT_MAX_MANIFEST_AGE_MS))
      return { kind: 'stale', manifest: parsed, ageMs };
    return { kind: 'found', manifest: parsed };
  }
  return {
    kind: 'missing',
    reason: `no complete inventory report (manifest.json with manifest.checksum) under s3://${location.bucket}/${location.prefix}`,
  };
}

/** Reads a manifest's text; a manifest walwatch cannot use is a reason, not an exception. */
export function parseManifest(body: string, key: string): InventoryManifest | { reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { reason: `${key} is not JSON` };
  }
  const parsed = MANIFEST.safeParse(json);
  if (!parsed.success)
    return { reason: `${key} is not an inventory manifest: ${z.prettifyError(parsed.error)}` };
  const manifest = parsed.data;
  if (manifest.fileFormat !== 'CSV')
    return { reason: `${key} is ${manifest.fileFormat}; walwatch reads CSV inventories` };
  const fileSchema = manifest.fileSchema.split(',').map((name) => name.trim());
  const absent = REQUIRED_COLUMNS.filter((name) => !fileSchema.includes(name));
  if (absent.length > 0)
    return { reason: `${key} lacks the columns ${absent.join(', ')} (add them as optional fields)` };
  return {
    key,
    sourceBucket: manifest.sourceBucket,
    destinationBucket: manifest.destinationBucket.replace(/^arn:[^:]+:s3:::/, ''),
    creationTimestamp: Number(manifest.creationTimestamp),
    fileFormat: 'CSV',
    fileSchema,
    files: manifest.files,
  };
}

async function listFolders(s3: S3Client, location: InventoryLocation): Promise<string[]> {
  const folders: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: location.bucket,
          Prefix: location.prefix,
          Delimiter: '/',
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const common of page.CommonPrefixes ?? [])
        if (common.Prefix) folders.push(common.Prefix.slice(location.prefix.length));
      token = page.NextContinuationToken;
    } while (token);
  } catch (error) {
    throw new ObjectAccessError(
      `cannot list s3://${location.bucket}/${location.prefix}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return folders;
}

async function readText(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await response.Body?.transformToString('utf8')) ?? '';
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
    throw new ObjectAccessError(`cannot read s3://${bucket}/${key}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
