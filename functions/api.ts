/**
 * The query API behind API Gateway (HTTP API, IAM auth): the shared Hono router over the DynamoDB store
 * (`shared/api/lambda-api.ts`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { createLambdaApiHandler } from '../shared/api/lambda-api.js';
import { readMonitorConfig } from '../shared/config/monitor-config.js';
import { createDocumentClient } from '../shared/store/client.js';

const config = readMonitorConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-api' });

/** Lambda entry point. */
export const handler = createLambdaApiHandler({
  config,
  db: createDocumentClient(),
  onError: (error) => logger.error('request failed', { error: error as Error }),
});
