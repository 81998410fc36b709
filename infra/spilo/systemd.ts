/**
 * Quotes a value for a systemd `Environment=` assignment: wraps it in double quotes, escapes
 * backslashes and quotes, and doubles `%` so systemd does not read it as a specifier. CDK tokens
 * (`${Token[…]}`) pass through unchanged, so values may be unresolved.
 */
export function quoteSystemdValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

/** Joins command words into one `Exec…=` value, one word a line, with systemd's `\` continuation. */
export function joinCommandLines(words: readonly string[]): string {
  return words.join(' \\\n  ');
}
