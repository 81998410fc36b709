/**
 * The query API behind API Gateway (HTTP API, IAM auth): the shared Hono router over the DynamoDB store.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { handle } from 'hono/aws-lambda';
import { createApiRouter } from '../shared/api/router.js';
import { readMonitorConfig } from '../shared/config/monitor-config.js';
import { createDocumentClient } from '../shared/store/client.js';
import { createDynamoMonitorData } from '../shared/store/monitor-items.js';

const config = readMonitorConfig(process.env);
const logger = new Logger({ serviceName: 'walwatch-api' });
const db = createDocumentClient();

const app = createApiRouter({
  data: createDynamoMonitorData(db, config.tableName),
  now: Date.now,
  callerOf: (c) => {
    const event = (c.env as { event?: APIGatewayProxyEventV2WithIAMAuthorizer } | undefined)?.event;
    return event?.requestContext.authorizer?.iam?.userArn ?? 'unknown';
  },
  thresholds: config.thresholds,
  ...(config.drills ? { drills: config.drills } : {}),
  ...(config.bucket ? { bucket: config.bucket } : {}),
  onError: (error) => logger.error('request failed', { error: error as Error }),
});

/** Lambda entry point. */
export const handler = handle(app);
