// Building CSV text in the browser, safely.

/**
 * Spreadsheet apps run cells that start with = + - @ (or a tab or carriage
 * return) as formulas. Problem rows hold raw values from someone else's
 * export, so such cells get a leading apostrophe (OWASP "CSV injection").
 */
export function guardCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function quoteCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** RFC 4180 text (CRLF line ends) with every cell guarded and quoted as needed. */
export function toCsv(header: string[], rows: (string | number | null | undefined)[][]): string {
  const line = (cells: (string | number | null | undefined)[]) =>
    cells.map((c) => quoteCell(guardCell(c == null ? '' : String(c)))).join(',');
  return [line(header), ...rows.map(line)].join('\r\n') + '\r\n';
}
