/**
 * Where the archive bucket's S3 Inventory lands and where reconcile fans its data files out to, read from
 * the environment in one place.
 */
import { ENV } from './env.js';
import { ConfigError } from './monitor-config.js';

/** The folder of one inventory configuration's reports: `<dest prefix>/<source bucket>/<config id>/`. */
export interface InventoryLocation {
  readonly bucket: string;
  /** Ends in `/`; the dated manifest folders and `data/` sit directly under it. */
  readonly prefix: string;
}

/** What a full reconcile from the inventory needs; absent when the bucket has no inventory. */
export interface InventoryConfig {
  readonly location: InventoryLocation;
  /** Queue of the inventory's data files, one message each, for the reconcile worker. */
  readonly queueUrl: string;
}

/**
 * Reads `s3://<bucket>/<prefix>/` into a location.
 *
 * @throws {ConfigError} naming the setting when the text is no such URL
 */
export function parseInventoryLocation(text: string, name: string): InventoryLocation {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.*)$/.exec(text.trim());
  if (!match)
    throw new ConfigError(
      `${name} must be s3://<bucket>/<prefix>/<source bucket>/<config id>/, got ${JSON.stringify(text)}`,
    );
  const prefix = (match[2] as string).replace(/^\/+/, '');
  return {
    bucket: match[1] as string,
    prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`,
  };
}

/** Reads the inventory settings: both or neither. @throws {ConfigError} when only one is set or one is bad */
export function readInventoryConfig(
  env: Readonly<Record<string, string | undefined>>,
): InventoryConfig | undefined {
  const location = env[ENV.inventoryLocation];
  const queueUrl = env[ENV.reconcileQueueUrl];
  if (!location && !queueUrl) return undefined;
  if (!location || !queueUrl)
    throw new ConfigError(
      `${ENV.inventoryLocation} and ${ENV.reconcileQueueUrl} go together; only one is set`,
    );
  return { location: parseInventoryLocation(location, ENV.inventoryLocation), queueUrl };
}
