#!/usr/bin/env node
/**
 * The `walwatch` command line: `analyze`, `serve` and friends. Each subcommand lives in its own module.
 */
const [command] = process.argv.slice(2);

if (command === 'serve') {
  process.stderr.write('walwatch serve: the local monitor is not built yet. Use `walwatch analyze --dir DIR` meanwhile.\n');
  process.exit(3);
}
process.stderr.write(`walwatch: unknown command ${command ?? '(none)'}\n`);
process.exit(3);
