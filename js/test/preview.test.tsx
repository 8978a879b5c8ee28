import { render } from '@testing-library/react';
import * as React from 'react';

import { Preview } from '../src/components/Preview';
import { IEntrySummary } from '../src/request';

function summary(facts: Record<string, unknown>): IEntrySummary['summary'] {
  return facts;
}

describe('Preview', () => {
  it('shows an array range and says when it was sampled or had NaNs', () => {
    const view = render(
      <Preview
        summary={summary({
          type: 'numpy.ndarray',
          shape: [1000000, 3],
          dtype: 'float64',
          min: -2.5,
          max: 7,
          nan: true,
          stats: 'sampled'
        })}
      />
    );
    const facts = view.container.querySelector('.jp-persist-facts')?.textContent;
    expect(facts).toBe(
      'shape (1000000, 3) · dtype float64 · min -2.5 · max 7 · has NaN · range sampled'
    );
  });

  it('does not say "exact" for a range over every element', () => {
    const view = render(
      <Preview summary={summary({ shape: [3], dtype: 'int8', min: 1, max: 3, stats: 'exact' })} />
    );
    expect(view.container.textContent).not.toContain('exact');
  });

  it('shows a PNG thumbnail and nothing for other image data', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const view = render(<Preview summary={summary({ type: 'list', thumbnail: png })} />);
    expect(view.container.querySelector('img.jp-persist-thumbnail')?.getAttribute('src')).toBe(png);
    const other = render(
      <Preview summary={summary({ type: 'list', thumbnail: 'javascript:alert(1)' })} />
    );
    expect(other.container.querySelector('img')).toBeNull();
  });
});
