/** Renders rows as the boxed tables `lxc` prints. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const out = [line, row(headers), line.replace(/-/g, '-')];
  for (const r of rows) out.push(row(r), line);
  if (rows.length === 0) out.push(line);
  return out.join('\n');
}

export function formatBytes(n: number): string {
  if (n <= 0) return '0B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)}${units[i] ?? ''}`;
}
