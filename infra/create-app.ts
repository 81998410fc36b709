import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { readAppConfig } from './app-config.js';
import { WalwatchStack } from './stacks/walwatch-stack.js';

/**
 * Builds the walwatch CDK app from its context, with the cdk-nag AwsSolutions and Serverless packs
 * registered as validation plugins: any unacknowledged finding makes `cdk synth` exit 1 and
 * `app.synth()` throw. Shared by `infra/app.ts` and the synthesis test.
 */
export function createWalwatchApp(props?: AppProps): { app: App; stack: WalwatchStack } {
  const app = new App(props);
  const config = readAppConfig((key) => app.node.tryGetContext(key));
  const stack = new WalwatchStack(app, config.stackName, config.stackProps);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return { app, stack };
}
