import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';

/** The context of `cdk.json` (feature flags and example values), plus no bundling, for test apps. */
export function testContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context: Record<string, unknown>;
  };
  return { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...overrides };
}

/** A bare App with the project's feature flags and no validation plugins. */
export function testApp(overrides: Record<string, unknown> = {}): App {
  return new App({ context: testContext(overrides) });
}

/**
 * Time a test that synthesizes may take: the first synthesis in a worker starts CDK's CloudFormation
 * schema validator (WASM, ~15 s alone, more on a busy CI machine).
 */
export const SYNTH_TIMEOUT_MS = 120_000;
