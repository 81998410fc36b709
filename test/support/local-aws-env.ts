/**
 * The environment a handler sees when it runs against the local servers: their endpoints, a region and
 * their test credentials, and Powertools logging JSON as in Lambda. Stubbed with `vi.stubEnv`, undone by
 * `vi.unstubAllEnvs()`.
 */
import { vi } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalDynamo } from './dynalite.js';
import type { LocalMoto } from './moto.js';

/** Points the AWS SDK at dynalite and, when given, moto's S3. */
export function stubLocalAwsEnv(servers: { dynamo: LocalDynamo; moto?: LocalMoto }): void {
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', servers.dynamo.endpoint);
  if (servers.moto) vi.stubEnv('AWS_ENDPOINT_URL_S3', servers.moto.endpoint);
  vi.stubEnv('AWS_REGION', 'eu-central-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', LOCAL_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', LOCAL_CREDENTIALS.secretAccessKey);
  vi.stubEnv('POWERTOOLS_DEV', 'false');
}
