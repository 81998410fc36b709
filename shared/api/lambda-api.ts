/**
 * The query API as the Lambda function serves it behind API Gateway (HTTP API, IAM auth): the shared router
 * over the DynamoDB store, the caller taken from the IAM authorizer, wrapped by `hono/aws-lambda`. Built in
 * one place so `functions/api.ts` and the fleet benchmark's API process run the same thing.
 */

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { handle } from 'hono/aws-lambda';
import type { MonitorConfig } from '../config/monitor-config.js';
import { createDynamoMonitorData } from '../store/monitor-items.js';
import { createApiRouter } from './router.js';

/** What the Lambda API is built from. */
export interface LambdaApiDependencies {
  readonly config: MonitorConfig;
  readonly db: DynamoDBDocumentClient;
  /** Called with unexpected errors before the 500 answer (logging). */
  readonly onError: (error: unknown) => void;
}

/** Builds the Lambda handler of the query API: API Gateway HTTP API (payload 2.0) events in, responses out. */
export function createLambdaApiHandler(deps: LambdaApiDependencies) {
  const { config } = deps;
  const app = createApiRouter({
    data: createDynamoMonitorData(deps.db, config.tableName),
    now: Date.now,
    callerOf: (c) => {
      const event = (c.env as { event?: APIGatewayProxyEventV2WithIAMAuthorizer } | undefined)?.event;
      return event?.requestContext.authorizer?.iam?.userArn ?? 'unknown';
    },
    thresholds: config.thresholds,
    ...(config.drills ? { drills: config.drills } : {}),
    ...(config.bucket ? { bucket: config.bucket } : {}),
    onError: deps.onError,
  });
  return handle(app);
}
