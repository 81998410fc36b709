import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** Requests per second and burst of the query API's stage. */
export interface ApiThrottle {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Requests allowed in a burst. */
  readonly burstLimit: number;
}

/** What {@link createQueryApi} puts behind the API. */
export interface QueryApiProps {
  /** The function serving every route (`functions/api.ts`). */
  readonly handler: IFunction;
  /** Stage throttling. */
  readonly throttle: ApiThrottle;
  /** Retention of the access logs. */
  readonly logRetention: RetentionDays;
}

/**
 * The query API: an HTTP API whose only routes, `ANY /` and `ANY /{proxy+}`, go to `handler` with IAM
 * authorization (the API's default authorizer, so a route added later gets it too), on a throttled
 * `$default` stage that writes JSON access logs with the caller's ARN.
 */
export function createQueryApi(scope: Construct, props: QueryApiProps): { api: HttpApi; url: string } {
  const api = new HttpApi(scope, 'Api', {
    description: 'walwatch query API: reports, gaps, restore plans (IAM auth)',
    createDefaultStage: false,
    defaultAuthorizer: new HttpIamAuthorizer(),
  });
  const integration = new HttpLambdaIntegration('ApiIntegration', props.handler);
  // Every path, `/` included; the authorizer is the API's default, so no route is left without IAM.
  api.addRoutes({ path: '/', methods: [HttpMethod.ANY], integration });
  api.addRoutes({ path: '/{proxy+}', methods: [HttpMethod.ANY], integration });
  const accessLogs = new LogGroup(scope, 'ApiAccessLogs', {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const stage = new HttpStage(scope, 'ApiStage', {
    httpApi: api,
    stageName: '$default',
    autoDeploy: true,
    throttle: props.throttle,
    accessLogSettings: {
      destination: new LogGroupLogDestination(accessLogs),
      format: AccessLogFormat.custom(
        JSON.stringify({
          requestId: '$context.requestId',
          time: '$context.requestTime',
          caller: '$context.identity.userArn',
          sourceIp: '$context.identity.sourceIp',
          routeKey: '$context.routeKey',
          path: '$context.path',
          status: '$context.status',
          latencyMs: '$context.responseLatency',
          integrationError: '$context.integrationErrorMessage',
        }),
      ),
    },
  });
  return { api, url: stage.url };
}
