import * as React from 'react';

import { formatAge, formatBytes, parseFilter } from '../format';
import { PanelModel } from '../model';
import { IEntriesReply, IEntrySummary } from '../request';
import { Preview } from './Preview';
import { navRowProps, onListKeyDown, useLoad } from './hooks';

/** Debounce a value: the filter box asks the server once typing pauses. */
function useDebounced<T>(value: T, delay: number): T {
  const [settled, setSettled] = React.useState(value);
  React.useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

/** One store's entries, paged and filtered by the server (prefix, or glob with `*?[`). */
export function EntriesView(props: { model: PanelModel; store: string }): JSX.Element {
  const { model, store } = props;
  const [text, setText] = React.useState(model.state.filter);
  const filter = useDebounced(text, 300);
  // Cursors of the pages seen so far: page i starts after cursors[i] (null: the start).
  const [cursors, setCursors] = React.useState<(string | null)[]>([null]);
  const [page, setPage] = React.useState(0);
  const [open, setOpen] = React.useState<string | null>(null);
  const limit = model.settings.pageSize;
  React.useEffect(() => {
    setCursors([null]);
    setPage(0);
    model.setFilter(filter);
  }, [filter, store, limit]);
  // Each reply is kept with the page it answers, so the range shown always matches the rows.
  const load = useLoad<{ reply: IEntriesReply; page: number }>(
    async () => ({
      reply: await model.api.entries(store, {
        ...parseFilter(filter),
        after: cursors[page],
        offset: page * limit,
        limit
      }),
      page
    }),
    [store, filter, page, model.version, limit]
  );
  const reply = load.data?.reply ?? null;
  const shown = load.data?.page ?? 0;
  const next = () => {
    if (!reply || reply.next === null || load.loading) {
      return;
    }
    const more = cursors.slice(0, shown + 1);
    more.push(reply.next || null);
    setCursors(more);
    setPage(shown + 1);
  };
  const first = shown * limit + 1;
  return (
    <div className="jp-persist-view">
      <input
        className="jp-persist-filter jp-mod-styled"
        type="search"
        // Short enough for the 240 px sidebar (the long form was cut mid-word); the
        // tooltip says it all.
        placeholder="prefix or glob: runs/*.png"
        title="Filter keys: a prefix (runs/), or a glob with *, ? or [...] (runs/*.png)"
        aria-label="Filter entries"
        value={text}
        onChange={event => setText(event.target.value)}
      />
      {load.error && <p className="jp-persist-error">Could not load: {load.error}</p>}
      {!reply && !load.error && <p className="jp-persist-status">Loading…</p>}
      {reply && (
        <>
          <div className="jp-persist-pager">
            <span className="jp-persist-status jp-persist-range">
              {reply.total === 0
                ? 'No entries match.'
                : `${first.toLocaleString()}–${(first + reply.entries.length - 1).toLocaleString()} of ${reply.total.toLocaleString()}`}
            </span>
            <button
              className="jp-persist-prev jp-mod-styled"
              disabled={shown === 0 || load.loading}
              onClick={() => setPage(shown - 1)}
              aria-label="Previous page"
            >
              ‹ Prev
            </button>
            <button
              className="jp-persist-next jp-mod-styled"
              disabled={reply.next === null || load.loading}
              onClick={next}
              aria-label="Next page"
            >
              Next ›
            </button>
          </div>
          <ul
            className={`jp-persist-list jp-persist-entries${load.loading ? ' jp-mod-loading' : ''}`}
            onKeyDown={onListKeyDown}
          >
            {reply.entries.map(entry => (
              <EntryRow
                key={entry.key}
                entry={entry}
                expanded={open === entry.key}
                onToggle={() => setOpen(open === entry.key ? null : entry.key)}
                onDelete={() => void model.deleteEntry(store, entry.key)}
              />
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

const OWNED = ['cell/', 'tasks/', 'checkpoint/', 'cellcache/'];

function EntryRow(props: {
  entry: IEntrySummary;
  expanded: boolean;
  onToggle: () => void;
  onDelete: () => void;
}): JSX.Element {
  const { entry } = props;
  const deletable = !OWNED.some(prefix => entry.key.startsWith(prefix));
  return (
    <li
      className="jp-persist-item jp-persist-entry"
      data-key={entry.key}
      aria-expanded={props.expanded}
      title={typeof entry.summary.repr === 'string' ? entry.summary.repr : entry.key}
      {...navRowProps(props.onToggle, deletable ? props.onDelete : undefined)}
    >
      <div className="jp-persist-row">
        <div className="jp-persist-name">{entry.key}</div>
        {deletable && (
          <button
            className="jp-persist-delete jp-mod-styled"
            title={`Delete ${entry.key}`}
            aria-label={`Delete ${entry.key}`}
            onClick={event => {
              event.stopPropagation();
              props.onDelete();
            }}
          >
            ✕
          </button>
        )}
      </div>
      <div className="jp-persist-facts">
        {entry.type} · {formatBytes(entry.size)} · {formatAge(entry.created)}
      </div>
      {props.expanded && <Preview summary={entry.summary} />}
    </li>
  );
}
