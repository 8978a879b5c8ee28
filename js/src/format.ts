/** Human-readable sizes, ages, durations and rates (the panel's one formatting module). */

/**
 * `1536` -> `1.5 kB`: decimal units, as the kernel's `%persist` text and widgets print them
 * (persist_ext/_format.py; both are checked against test/format_cases.json).
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '?';
  }
  const units = ['B', 'kB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Seconds since the epoch -> `just now`, `30 s ago`, `3 min ago` (relative to `now`). */
export function formatAge(seconds: number | null | undefined, now = Date.now() / 1000): string {
  if (seconds === null || seconds === undefined || !seconds) {
    return 'never';
  }
  const delta = Math.max(0, now - seconds);
  if (delta < 5) {
    return 'just now';
  }
  const steps: [number, string][] = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'min']
  ];
  for (const [size, label] of steps) {
    if (delta >= size) {
      return `${Math.floor(delta / size)} ${label} ago`;
    }
  }
  return `${Math.floor(delta)} s ago`;
}

/** Seconds -> `850 ms`, `2.5 s`, `3 min 20 s`, `1 h 5 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '–';
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${Math.round(seconds % 60)} s`;
  }
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Tasks per second -> `12.3/s` or `4.0/min`. */
export function formatRate(rate: number | null | undefined): string {
  if (!rate || !Number.isFinite(rate)) {
    return '–';
  }
  return rate >= 1 ? `${rate.toFixed(1)}/s` : `${(rate * 60).toFixed(1)}/min`;
}

/** A count with its noun, grouped as the entries pager shows counts: `1 entry`, `100,000 entries`. */
export function formatCount(count: number, one: string, many: string): string {
  return `${count.toLocaleString()} ${count === 1 ? one : many}`;
}

/** What the filter box means: a glob when it holds `*`, `?` or `[`, else a key prefix. */
export function parseFilter(text: string): { prefix?: string; glob?: string } {
  const value = text.trim();
  if (!value) {
    return {};
  }
  return /[*?[]/.test(value) ? { glob: value } : { prefix: value };
}

/** The short form of a long key: `cell/load/905ea97a…/var/x` keeps both ends. */
export function shortKey(key: string, max = 48): string {
  if (key.length <= max) {
    return key;
  }
  const half = Math.floor((max - 1) / 2);
  return `${key.slice(0, half)}…${key.slice(key.length - half)}`;
}
