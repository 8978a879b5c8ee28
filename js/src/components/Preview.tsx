import * as React from 'react';

import { IEntrySummary } from '../request';

interface IFrameHead {
  columns: unknown[];
  index?: unknown[];
  data: unknown[][];
}

function isFrameHead(value: unknown): value is IFrameHead {
  const head = value as IFrameHead;
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray(head.columns) &&
    Array.isArray(head.data)
  );
}

const cellText = (value: unknown) =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? '');

/** Short facts of a stored summary: shape, dtype, range, length, NaNs, sampled range. */
export function summaryFacts(summary: IEntrySummary['summary']): string[] {
  const facts: string[] = [];
  if (Array.isArray(summary.shape)) {
    facts.push(`shape (${(summary.shape as number[]).join(', ')})`);
  }
  if (typeof summary.dtype === 'string') {
    facts.push(`dtype ${summary.dtype}`);
  }
  for (const name of ['min', 'max', 'len']) {
    if (typeof summary[name] === 'number') {
      facts.push(`${name} ${summary[name]}`);
    }
  }
  if (summary.nan === true) {
    facts.push('has NaN');
  }
  // "sampled" ranges come from blocks spread over a large array, not every element.
  if (typeof summary.stats === 'string' && summary.stats !== 'exact') {
    facts.push(`range ${summary.stats}`);
  }
  return facts;
}

/**
 * A value's preview, built only from the JSON summary stored with it: a frame's head as a
 * table, an array's shape, dtype and range, an image thumbnail when the writer stored one,
 * else the short repr. Nothing is decoded.
 */
export function Preview(props: {
  summary: IEntrySummary['summary'];
  /** False where the facts line is already shown beside the preview (a cell's variable). */
  showFacts?: boolean;
}): JSX.Element {
  const summary = props.summary;
  const facts = props.showFacts === false ? [] : summaryFacts(summary);
  const head = summary.head;
  const thumbnail = summary.thumbnail;
  return (
    <div className="jp-persist-preview">
      {facts.length > 0 && <div className="jp-persist-facts">{facts.join(' · ')}</div>}
      {typeof thumbnail === 'string' && thumbnail.startsWith('data:image/png;base64,') && (
        <img className="jp-persist-thumbnail" src={thumbnail} alt="thumbnail" />
      )}
      {isFrameHead(head) ? (
        <div className="jp-persist-table-wrap">
          <table className="jp-persist-table">
            <thead>
              <tr>
                {head.index && <th />}
                {head.columns.map((column, i) => (
                  <th key={i}>{cellText(column)}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {head.data.map((row, r) => (
                <tr key={r}>
                  {head.index && <th>{cellText(head.index[r])}</th>}
                  {row.map((value, c) => (
                    <td key={c}>{cellText(value)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        typeof summary.repr === 'string' && <pre className="jp-persist-repr">{summary.repr}</pre>
      )}
    </div>
  );
}
