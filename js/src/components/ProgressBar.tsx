import * as React from 'react';

import { IGroupCounts } from '../request';

/** A stacked bar: done (green), failed (red), running (blue) and to do (empty). */
export function ProgressBar(props: {
  counts: IGroupCounts;
  total: number;
  /** What the tasks recorded as running are called ("interrupted" with no process). */
  running?: string;
}): JSX.Element {
  const { counts, total, running = 'running' } = props;
  const width = (n: number) => `${total ? (100 * n) / total : 0}%`;
  const label =
    `${counts.done} done, ${counts.failed} failed, ${counts.running} ${running}, ` +
    `${counts.todo} to do of ${total}`;
  return (
    <div
      className="jp-persist-progress"
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={total}
      aria-valuenow={counts.done + counts.failed}
      aria-label={label}
      title={label}
    >
      <div className="jp-persist-progress-done" style={{ width: width(counts.done) }} />
      <div className="jp-persist-progress-failed" style={{ width: width(counts.failed) }} />
      <div className="jp-persist-progress-running" style={{ width: width(counts.running) }} />
    </div>
  );
}
