#!/usr/bin/env node
/**
 * The `walwatch` command line. Each subcommand is a module in this folder exporting
 * `run(args: string[]): Promise<number>` (the exit code); it is loaded only when called.
 */
// The SDK warns on every start that future releases need Node 22; walwatch pins a release that runs on 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const commands: Record<string, { readonly module: string; readonly summary: string }> = {
  analyze: { module: './analyze.js', summary: 'analyse a bucket or folder of WAL-G/WAL-E backups' },
  inspect: { module: './inspect.js', summary: 'read a WAL segment file or S3 object: records, commit times' },
  'wal-fetch': { module: './wal-fetch.js', summary: "PostgreSQL's restore_command: fetch one WAL file" },
  drill: { module: './drill.js', summary: 'restore a backup with PostgreSQL and verify the prediction' },
  serve: { module: './serve.js', summary: 'run the local monitor: store, API and web dashboard' },
  sample: { module: './sample.js', summary: 'write a small WAL-G archive into a folder to try walwatch on' },
};

/** Exit code for usage and access errors. */
export const EXIT_USAGE = 3;

function usage(): string {
  const lines = Object.entries(commands).map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`);
  return `usage: walwatch <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun walwatch <command> --help for its options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`walwatch: unknown command '${name}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  let loaded: { run(args: string[]): Promise<number> };
  try {
    loaded = await import(command.module);
  } catch (error) {
    if (
      (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' &&
      String(error).includes(command.module.slice(2, -3))
    ) {
      process.stderr.write(`walwatch ${name}: not built yet in this version.\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
  return loaded.run(args);
}

process.exitCode = await main(process.argv.slice(2));
