/**
 * Quotes a value for a systemd `Environment=` assignment: wraps it in double quotes, escapes
 * backslashes and quotes, and doubles `%` so systemd does not read it as a specifier. CDK tokens
 * (`${Token[…]}`) pass through unchanged, so values may be unresolved.
 */
export function quoteSystemdValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

/** Joins groups of command words into one `Exec…=` value, one group a line, with `\` continuations. */
export function joinCommandLines(words: readonly string[]): string {
  return words.join(' \\\n  ');
}
