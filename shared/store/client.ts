/**
 * The DynamoDB document client walwatch uses: the same for Lambda (default endpoint) and for the local
 * monitor or tests (dynalite / DynamoDB Local through `endpoint`).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Where the table lives. */
export interface StoreClientOptions {
  /** Endpoint of a DynamoDB-compatible server; the SDK also honours `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint?: string;
  readonly region?: string;
  /** SDK attempts per request (throttling and transient errors). @default 3 */
  readonly maxAttempts?: number;
  /** Static credentials for a local server. */
  readonly credentials?: DynamoDBClientConfig['credentials'];
}

/** Builds a document client: `undefined` attributes dropped, numbers as JS numbers. */
export function createDocumentClient(options: StoreClientOptions = {}): DynamoDBDocumentClient {
  const config: DynamoDBClientConfig = {};
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.region) config.region = options.region;
  if (options.maxAttempts) config.maxAttempts = options.maxAttempts;
  if (options.credentials) config.credentials = options.credentials;
  return DynamoDBDocumentClient.from(new DynamoDBClient(config), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
