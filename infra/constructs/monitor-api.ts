import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
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
  /**
   * Browser origins allowed to call the API (the hosted dashboard's): API Gateway answers their CORS
   * preflights with the headers SigV4 needs.
   *
   * @default - none: no CORS, only non-browser callers
   */
  readonly corsOrigins?: readonly string[];
}

/** Request headers a SigV4-signing browser sends besides the safelisted ones. */
export const SIGV4_HEADERS = [
  'authorization',
  'content-type',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
] as const;

/**
 * The query API: an HTTP API whose only routes, `ANY /` and `ANY /{proxy+}`, go to `handler` with IAM
 * authorization (the API's default authorizer, so a route added later gets it too), on a throttled
 * `$default` stage that writes JSON access logs with the caller's ARN; with `corsOrigins`, CORS for them.
 */
export function createQueryApi(scope: Construct, props: QueryApiProps): { api: HttpApi; url: string } {
  const corsOrigins = props.corsOrigins ?? [];
  const api = new HttpApi(scope, 'Api', {
    description: 'walwatch query API: reports, gaps, restore plans (IAM auth)',
    createDefaultStage: false,
    defaultAuthorizer: new HttpIamAuthorizer(),
    // API Gateway answers preflights itself, before authorization; no route serves OPTIONS.
    corsPreflight:
      corsOrigins.length === 0
        ? undefined
        : {
            allowOrigins: [...corsOrigins],
            allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.OPTIONS],
            // The fleet view polls `GET /clusters` with `If-None-Match` and reads the answer's `ETag`.
            allowHeaders: [...SIGV4_HEADERS, 'if-none-match'],
            exposeHeaders: ['etag'],
            maxAge: Duration.minutes(10),
          },
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
