/**
 * Starts the query API in a process of its own (`fleet-page-process.ts`) against a DynamoDB endpoint and
 * table, as the Lambda function is to the store, has it measure the fleet page and waits for its report.
 * `WALWATCH_BENCH_PROFILE=<dir>` writes the API process's CPU profile there.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { ENV } from '../../shared/config/env.js';
import { BENCH_CREDENTIALS, BENCH_REGION } from './dynamo-process.js';
import type { FleetPageReport, FleetPageRequest } from './fleet-page-process.js';

const script = fileURLToPath(new URL('./fleet-page-process.ts', import.meta.url));

/** Runs one measurement in a fresh API process, which exits after it. */
export async function measureFleetPageInOwnProcess(
  store: { endpoint: string; pid: number; table: string },
  request: FleetPageRequest,
): Promise<FleetPageReport> {
  const profile = process.env.WALWATCH_BENCH_PROFILE;
  const child = fork(script, [], {
    execArgv: ['--import', 'tsx', ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [])],
    // What the function's environment holds (the table) and what the SDK reads for the store on AWS.
    env: {
      ...process.env,
      [ENV.tableName]: store.table,
      AWS_ENDPOINT_URL_DYNAMODB: store.endpoint,
      AWS_REGION: BENCH_REGION,
      AWS_ACCESS_KEY_ID: BENCH_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: BENCH_CREDENTIALS.secretAccessKey,
      // For the store's CPU time per page.
      WALWATCH_BENCH_DYNAMO_PID: String(store.pid),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const failed = exited.then(([code]) => {
    throw new Error(`the fleet page API process exited with ${code}`);
  });
  const next = () =>
    Promise.race([new Promise<unknown>((resolve) => child.once('message', resolve)), failed]);
  await next();
  child.send(request);
  const report = (await next()) as FleetPageReport;
  failed.catch(() => undefined);
  await exited;
  return report;
}
