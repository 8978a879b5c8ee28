import {
  formatAge,
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  parseFilter,
  shortKey
} from '../src/format';
import { withQuery } from '../src/request';
import cases from './format_cases.json';

describe('format', () => {
  it('groups counts and says "entry" for one', () => {
    expect(formatCount(100000, 'entry', 'entries')).toBe('100,000 entries');
    expect(formatCount(1, 'entry', 'entries')).toBe('1 entry');
    expect(formatCount(0, 'entry', 'entries')).toBe('0 entries');
  });

  it('formats sizes as the kernel does', () => {
    for (const [size, text] of cases.sizes as [number, string][]) {
      expect(formatBytes(size)).toBe(text);
    }
    expect(formatBytes(null)).toBe('?');
  });

  it('formats ages as the kernel does', () => {
    for (const [when, now, text] of cases.ages as [number, number, string][]) {
      expect(formatAge(when, now)).toBe(text);
    }
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
