/**
 * The query API in a process of its own, as the Lambda function runs it (`npm run bench fleet` forks this
 * with `fleet-page-api.ts`): the handler `functions/api.ts` exports, built by the same
 * `createLambdaApiHandler` from the same settings (`readMonitorConfig` of its environment) and the SDK's own
 * endpoint, region and credentials variables, answering API Gateway HTTP API events one at a time as a Lambda
 * instance does. It times each page of the routes it is sent, counts the DynamoDB requests by operation with
 * SDK middleware, polls an unchanged page with its ETag, and reports its RSS and the GC pauses of its heap
 * while it measured, then exits.
 */
import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, Context } from 'aws-lambda';
import { createLambdaApiHandler } from '../../shared/api/lambda-api.js';
import { readMonitorConfig } from '../../shared/config/monitor-config.js';
import { createDocumentClient } from '../../shared/store/client.js';
import { cpuSecondsOf, peakRssOf } from './dynamo-process.js';
import { RequestCounter } from './request-counter.js';

/**
 * What to measure: every route `warmup` times unmeasured, then each `runs` times, then `polls` conditional polls
 * of the first.
 */
export interface FleetPageRequest {
  readonly routes: readonly string[];
  readonly runs: number;
  readonly warmup: number;
  readonly polls: number;
}

/** One route's numbers. */
export interface RouteReport {
  readonly route: string;
  /** Milliseconds per request, sorted. */
  readonly times: number[];
  /** DynamoDB requests per page, by operation. */
  readonly perPage: [string, number][];
  /** Requests slower than 50 ms, and how many of them a GC pause overlapped. */
  readonly slow: number;
  readonly slowWithGc: number;
  /** CPU milliseconds per page of this process and of the DynamoDB server. */
  readonly apiCpuMs: number;
  readonly storeCpuMs: number;
}

/** What the API process measured. */
export interface FleetPageReport {
  readonly routes: RouteReport[];
  readonly notModified: number;
  readonly polls: number;
  readonly rss: number;
  readonly peakRss: number;
  readonly heapUsed: number;
  /** GC pauses while measuring: count, total and longest (ms). */
  readonly gc: { count: number; totalMs: number; maxMs: number };
}

const SLOW_MS = 50;

if (!process.send) throw new Error('run by bench/support/fleet-page-api.ts');
const counter = new RequestCounter();
const db = createDocumentClient();
counter.attach(db);
const handler = createLambdaApiHandler({
  config: readMonitorConfig(process.env),
  db,
  onError: (error) => process.stderr.write(`API error: ${(error as Error).stack ?? String(error)}\n`),
});
const context = { awsRequestId: 'bench' } as Context;
const storePid = Number(process.env.WALWATCH_BENCH_DYNAMO_PID);

/** An API Gateway HTTP API (payload 2.0) event of a GET from an IAM principal. */
function event(route: string, headers: Record<string, string> = {}): APIGatewayProxyEventV2WithIAMAuthorizer {
  const [path = route, query = ''] = route.split('?');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    headers: { host: 'bench.execute-api.local', ...headers },
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench',
      domainName: 'bench.execute-api.local',
      domainPrefix: 'bench',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'bench',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
      authorizer: { iam: { userArn: 'arn:aws:iam::123456789012:user/bench' } },
    },
  } as unknown as APIGatewayProxyEventV2WithIAMAuthorizer;
}

async function get(route: string, headers?: Record<string, string>) {
  const response = (await handler(event(route, headers) as never, context)) as {
    statusCode: number;
    headers?: Record<string, string>;
  };
  return response;
}

async function measure(request: FleetPageRequest): Promise<FleetPageReport> {
  const pauses: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => pauses.push(...list.getEntries()));
  const routes: RouteReport[] = [];
  // A warm instance: every route answered a few times before any is timed.
  for (let i = 0; i < request.warmup; i++) for (const route of request.routes) await get(route);
  for (const route of request.routes) {
    counter.reset();
    observer.observe({ entryTypes: ['gc'] });
    const spans: [number, number][] = [];
    const cpu = process.cpuUsage();
    const storeCpu = cpuSecondsOf(storePid);
    for (let i = 0; i < request.runs; i++) {
      const started = performance.now();
      const response = await get(route);
      spans.push([started, performance.now()]);
      if (response.statusCode !== 200) throw new Error(`${route} answered ${response.statusCode}`);
    }
    const { user, system } = process.cpuUsage(cpu);
    const storeCpuMs = ((cpuSecondsOf(storePid) - storeCpu) * 1000) / request.runs;
    // Entries are delivered asynchronously: let the last ones in before reading them.
    await new Promise((resolve) => setImmediate(resolve));
    observer.disconnect();
    const slow = spans.filter(([start, end]) => end - start > SLOW_MS);
    routes.push({
      route,
      times: spans.map(([start, end]) => end - start).sort((a, b) => a - b),
      perPage: [...counter.byOperation].map(([name, n]) => [name, n / request.runs]),
      slow: slow.length,
      slowWithGc: slow.filter(([start, end]) =>
        pauses.some((gc) => gc.startTime < end && gc.startTime + gc.duration > start),
      ).length,
      apiCpuMs: (user + system) / 1000 / request.runs,
      storeCpuMs,
    });
  }
  const etag = (await get(request.routes[0] as string)).headers?.etag ?? '';
  let notModified = 0;
  for (let i = 0; i < request.polls; i++)
    if ((await get(request.routes[0] as string, { 'if-none-match': etag })).statusCode === 304)
      notModified += 1;
  const durations = pauses.map((gc) => gc.duration);
  return {
    routes,
    notModified,
    polls: request.polls,
    rss: process.memoryUsage().rss,
    peakRss: peakRssOf('self'),
    heapUsed: process.memoryUsage().heapUsed,
    gc: {
      count: durations.length,
      totalMs: durations.reduce((a, b) => a + b, 0),
      maxMs: Math.max(0, ...durations),
    },
  };
}

process.once('message', async (request: FleetPageRequest) => {
  process.send?.(await measure(request));
  db.destroy();
  process.disconnect();
});
process.send({ ready: true });
