/**
 * The frame the one-shot `walwatch` commands share: options parsed (with `--help`, `-h`), the help text on
 * `--help`, and a usage mistake printed as `walwatch <name>: message` with exit code 3.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './options.js';

/** The options a command may declare. */
type CommandOptions = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION = { help: { type: 'boolean', short: 'h', default: false } } as const;

/** What `parseArgs` gives a command with options `O` and positional arguments. */
export type ParsedCommand<O extends CommandOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true }>
>;

/** A command's name, help text, options and the errors it reports as usage or access errors. */
export interface CommandFrame<O extends CommandOptions> {
  /** As typed after `walwatch`, e.g. `analyze`. */
  readonly name: string;
  readonly help: string;
  readonly options: O;
  /** Errors printed as a message with exit code 3 besides `UsageError` and bad options. @default none */
  readonly expected?: ReadonlyArray<abstract new (...args: never[]) => Error>;
}

/**
 * Parses `args` for `frame` and runs `body` with the result; returns its exit code, 0 after `--help`, or 3
 * for a usage mistake or an expected error (printed on stderr). Other errors are thrown.
 *
 * @example
 * return runCommand(args, { name: 'sample', help: HELP, options: { quiet: { type: 'boolean', default: false } } },
 *   async ({ values }) => (values.quiet ? 0 : 1));
 */
export async function runCommand<const O extends CommandOptions>(
  args: string[],
  frame: CommandFrame<O>,
  body: (parsed: ParsedCommand<O>) => Promise<number>,
): Promise<number> {
  try {
    const parsed = parseArgs({ args, allowPositionals: true, options: { ...frame.options, ...HELP_OPTION } });
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(frame.help);
      return 0;
    }
    return await body(parsed as unknown as ParsedCommand<O>);
  } catch (error) {
    if (
      error instanceof UsageError ||
      isArgError(error) ||
      (frame.expected ?? []).some((kind) => error instanceof kind)
    ) {
      process.stderr.write(`walwatch ${frame.name}: ${(error as Error).message}\n`);
      return 3;
    }
    throw error;
  }
}

/** Whether `parseArgs` refused the arguments (an unknown option, a missing value). */
function isArgError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}
