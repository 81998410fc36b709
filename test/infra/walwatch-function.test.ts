import { existsSync } from 'node:fs';
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import {
  functionEntry,
  WalwatchFunction,
  type WalwatchFunctionProps,
} from '../../infra/constructs/walwatch-function.js';
import { SYNTH_TIMEOUT_MS, testApp } from './support.js';

const props: WalwatchFunctionProps = {
  entry: functionEntry('sweeper'),
  description: 'test function',
  timeout: Duration.seconds(30),
};

describe('WalwatchFunction', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it.each(['ingest', 'reconcile', 'sweeper', 'api'])('finds the entry point functions/%s.ts', (name) => {
    expect(existsSync(functionEntry(name))).toBe(true);
  });

  it('writes only to its own log group, with no managed policy', () => {
    const stack = new Stack(testApp(), 'Test');
    const fn = new WalwatchFunction(stack, 'Fn', props);
    const template = Template.fromStack(stack);
    const role = Object.values(template.findResources('AWS::IAM::Role'))[0] as {
      Properties: Record<string, unknown>;
    };
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const logGroupArn = stack.resolve(fn.logGroup.logGroupArn);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
            Effect: 'Allow',
            Resource: '*',
          },
          { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: logGroupArn },
        ],
      },
    });
  });

  it.each<[Partial<WalwatchFunctionProps>, RegExp]>([
    [{ memorySize: 64 }, /memorySize must be .* got 64/],
    [{ timeout: Duration.minutes(16) }, /timeout must be from 1 s to 15 minutes, got 16 minutes/],
  ])('rejects %j, showing the bad value', (overrides, message) => {
    const stack = new Stack(testApp(), 'Test');
    expect(() => new WalwatchFunction(stack, 'Fn', { ...props, ...overrides })).toThrow(message);
  });
});
