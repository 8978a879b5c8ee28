import {
  formatAge,
  formatBytes,
  formatDuration,
  formatRate,
  parseFilter,
  shortKey
} from '../src/format';
import { withQuery } from '../src/request';

describe('format', () => {
  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(8 * 1024 * 1024)).toBe('8.0 MiB');
    expect(formatBytes(null)).toBe('?');
  });

  it('formats ages relative to now', () => {
    expect(formatAge(1000, 1030)).toBe('30 s ago');
    expect(formatAge(1000, 1000 + 180)).toBe('3 min ago');
    expect(formatAge(1000, 1000 + 7200)).toBe('2 h ago');
    expect(formatAge(null)).toBe('never');
  });

  it('formats durations and rates', () => {
    expect(formatDuration(0.25)).toBe('250 ms');
    expect(formatDuration(2.5)).toBe('2.5 s');
    expect(formatDuration(200)).toBe('3 min 20 s');
    expect(formatDuration(3900)).toBe('1 h 5 min');
    expect(formatDuration(null)).toBe('–');
    expect(formatRate(12.34)).toBe('12.3/s');
    expect(formatRate(0.5)).toBe('30.0/min');
    expect(formatRate(null)).toBe('–');
  });

  it('reads the filter box as a prefix or a glob', () => {
    expect(parseFilter('')).toEqual({});
    expect(parseFilter(' runs/ ')).toEqual({ prefix: 'runs/' });
    expect(parseFilter('runs/*.png')).toEqual({ glob: 'runs/*.png' });
    expect(parseFilter('img-?')).toEqual({ glob: 'img-?' });
  });

  it('shortens long keys keeping both ends', () => {
    const key = 'cell/squares/905ea97a0123456789abcdef/23d4bf3d0123456789/var/squares';
    const short = shortKey(key, 30);
    expect(short.length).toBeLessThanOrEqual(30);
    expect(short.startsWith('cell/')).toBe(true);
    expect(short.endsWith('squares')).toBe(true);
  });

  it('builds queries from defined parameters only', () => {
    expect(withQuery('stores/entries', { path: 'a b', prefix: undefined, limit: 5 })).toBe(
      'stores/entries?path=a+b&limit=5'
    );
    expect(withQuery('stores', {})).toBe('stores');
  });
});
