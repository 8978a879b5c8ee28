import * as React from 'react';

import { formatAge, formatDuration, formatRate } from '../format';
import { PanelModel } from '../model';
import { IGroup, IGroupReply, IGroupsReply, ITreeLevel, ITreeNode } from '../request';
import { ProgressBar } from './ProgressBar';
import { navRowProps, onListKeyDown, onScreen, RELIST_MS } from './hooks';

const LONG_POLL = 25;
const ROWS = 50;

/**
 * Follow a store's groups live with ONE long-lived request: the server answers as soon as
 * any group changes (or after LONG_POLL seconds unchanged), so nothing is sent while
 * nothing happens and a change shows within the server's watch interval.
 */
function useLiveGroups(
  model: PanelModel,
  store: string,
  root: React.RefObject<HTMLElement>
): {
  reply: IGroupsReply | null;
  error: string | null;
} {
  const [reply, setReply] = React.useState<IGroupsReply | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const live = model.settings.liveUpdates;
  React.useEffect(() => {
    const abort = new AbortController();
    let version = '';
    const loop = async () => {
      while (!abort.signal.aborted) {
        try {
          const next = await model.api.groups(store, {
            since: version || undefined,
            wait: version && live ? LONG_POLL : undefined,
            signal: abort.signal
          });
          if (abort.signal.aborted) {
            return;
          }
          setError(null);
          if (next.version !== version) {
            version = next.version;
            setReply(next);
          }
          if (!live) {
            return;
          }
          // Hidden (sidebar collapsed, browser tab in the background): hold no request
          // open; showing the panel reloads it anyway.
          while (!abort.signal.aborted && !onScreen(root.current)) {
            await new Promise(resolve => setTimeout(resolve, RELIST_MS));
          }
        } catch (err) {
          if (abort.signal.aborted) {
            return;
          }
          setError((err as Error).message);
          await new Promise(resolve => setTimeout(resolve, 5000)); // back off, then retry
        }
      }
    };
    void loop();
    return () => abort.abort();
  }, [model, store, model.version, live]);
  return { reply, error };
}

/** Every task group of a store, live: progress, rate, ETA; a group opens to its tasks. */
export function GroupsView(props: { model: PanelModel; store: string }): JSX.Element {
  const { model, store } = props;
  const root = React.useRef<HTMLDivElement>(null);
  const { reply, error } = useLiveGroups(model, store, root);
  return (
    <div className="jp-persist-view" ref={root}>
      {error && !reply ? (
        <p className="jp-persist-error">Could not load the task groups: {error}</p>
      ) : !reply ? (
        <p className="jp-persist-status">Loading…</p>
      ) : (
        <GroupList model={model} store={store} reply={reply} />
      )}
    </div>
  );
}

function GroupList(props: { model: PanelModel; store: string; reply: IGroupsReply }): JSX.Element {
  const { model, store, reply } = props;
  const [open, setOpen] = React.useState<string | null>(null);
  if (!reply.groups.length) {
    return (
      <p className="jp-persist-empty">
        No task groups in this store. <code>TaskGroup(name).map(fn, items).run()</code> makes one.
      </p>
    );
  }
  return (
    <ul className="jp-persist-list jp-persist-groups" onKeyDown={onListKeyDown}>
      {reply.groups.map(group => (
        <GroupCard
          key={group.name}
          model={model}
          store={store}
          group={group}
          expanded={open === group.name}
          onToggle={() => setOpen(open === group.name ? null : group.name)}
        />
      ))}
    </ul>
  );
}

const STATE_LABEL: { [state: string]: string } = {
  running: 'running',
  interrupted: 'interrupted (no process)',
  done: 'done',
  failed: 'settled with failures',
  idle: 'idle'
};

/**
 * What tasks recorded as running are: running, unless no process holds the group any more
 * (state "interrupted": their process died, e.g. with its kernel).
 */
export function runningLabel(group: IGroup): string {
  return group.state === 'interrupted' ? 'interrupted' : 'running';
}

function GroupCard(props: {
  model: PanelModel;
  store: string;
  group: IGroup;
  expanded: boolean;
  onToggle: () => void;
}): JSX.Element {
  const { group } = props;
  const { counts } = group;
  return (
    <li
      className={`jp-persist-item jp-persist-group jp-mod-${group.state}`}
      data-group={group.name}
      data-state={group.state}
      aria-expanded={props.expanded}
      {...navRowProps(props.onToggle)}
    >
      <div className="jp-persist-row">
        <div className="jp-persist-name">{group.name}</div>
        <span className={`jp-persist-badge jp-mod-${group.state}`}>{STATE_LABEL[group.state]}</span>
      </div>
      <ProgressBar counts={counts} total={group.total} running={runningLabel(group)} />
      <div className="jp-persist-facts jp-persist-counts">
        {counts.done} done · {counts.failed} failed · {counts.running} {runningLabel(group)} ·{' '}
        {counts.todo} to do · of {group.total}
      </div>
      <div className="jp-persist-facts">
        rate {formatRate(group.rate)}
        {group.eta !== null && ` · ETA ${formatDuration(group.eta)}`}
        {group.started !== null && ` · started ${formatAge(group.started)}`}
      </div>
      {props.expanded && <GroupDetails model={props.model} store={props.store} group={group} />}
    </li>
  );
}

function GroupDetails(props: { model: PanelModel; store: string; group: IGroup }): JSX.Element {
  const { model, store, group } = props;
  const [offset, setOffset] = React.useState(0);
  const [status, setStatus] = React.useState('');
  const [detail, setDetail] = React.useState<IGroupReply | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    const abort = new AbortController();
    model.api
      .group(store, group.name, { offset, limit: ROWS, status }, abort.signal)
      .then(setDetail, err => !abort.signal.aborted && setError((err as Error).message));
    return () => abort.abort();
    // The list's live version tells when to read the rows again.
  }, [store, group.name, group.version, offset, status]);
  const canReplay = !group.running && group.counts.failed > 0;
  return (
    <div className="jp-persist-details" onClick={event => event.stopPropagation()}>
      <div className="jp-persist-row">
        <select
          className="jp-persist-status-filter jp-mod-styled"
          aria-label="Show tasks with status"
          value={status}
          onChange={event => {
            setStatus(event.target.value);
            setOffset(0);
          }}
        >
          <option value="">all unsettled first</option>
          <option value="running">running</option>
          <option value="failed">failed</option>
          <option value="unstarted">to do</option>
          <option value="finished">finished</option>
        </select>
        <button
          className="jp-persist-replay jp-mod-styled"
          disabled={!canReplay}
          title={
            group.running
              ? 'A process is running this group: replay when it is over.'
              : group.counts.failed
                ? 'Mark the failed tasks for replay'
                : 'No failed tasks'
          }
          onClick={() => void model.replay(store, group.name)}
        >
          Replay failed
        </button>
      </div>
      {error && <p className="jp-persist-error">{error}</p>}
      {detail && (
        <>
          <table className="jp-persist-table jp-persist-tasks">
            <thead>
              <tr>
                <th>task</th>
                <th>status</th>
                <th>tries</th>
                <th>time</th>
                <th>last output / error</th>
              </tr>
            </thead>
            <tbody>
              {detail.tasks.map(row => (
                <tr key={row.instance} data-task={row.task} className={`jp-mod-${row.status}`}>
                  <td className="jp-persist-mono">{row.task}</td>
                  <td>
                    {row.status === 'running' ? runningLabel(group) : row.status}
                    {row.status === 'failed' && (
                      <button
                        className="jp-persist-replay-task jp-mod-styled"
                        disabled={group.running}
                        aria-label={`Replay task ${row.task}`}
                        title={
                          group.running
                            ? 'A process is running this group: replay when it is over.'
                            : 'Mark this task for replay'
                        }
                        onClick={() => void model.replay(store, group.name, row.task)}
                      >
                        ↻
                      </button>
                    )}
                  </td>
                  <td>{row.tries}</td>
                  <td>{formatDuration(row.duration)}</td>
                  <td className={row.error ? 'jp-persist-error' : ''}>{row.error || row.output}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="jp-persist-pager">
            <span className="jp-persist-status">
              {detail.tasks_total === 0
                ? 'No tasks.'
                : `${offset + 1}–${offset + detail.tasks.length} of ${detail.tasks_total}`}
            </span>
            <button
              className="jp-mod-styled"
              disabled={offset === 0}
              onClick={() => setOffset(Math.max(0, offset - ROWS))}
            >
              ‹ Prev
            </button>
            <button
              className="jp-mod-styled"
              disabled={offset + ROWS >= detail.tasks_total}
              onClick={() => setOffset(offset + ROWS)}
            >
              Next ›
            </button>
          </div>
          <TreeView group={detail} />
        </>
      )}
    </div>
  );
}

/** "3 of 4 nodes settled · 1 with failures" (or "3 nodes settled" without the shape). */
function levelText(level: ITreeLevel): string {
  const settled =
    level.total === undefined
      ? `${level.done} node${level.done === 1 ? '' : 's'} settled`
      : `${level.done} of ${level.total} node${level.total === 1 ? '' : 's'} settled`;
  return level.failing ? `${settled} · ${level.failing} with failures` : settled;
}

/** "3/3 done · 1 failed · settled 2 min. ago" for one node. */
function nodeText(node: ITreeNode): string {
  const parts: string[] = [];
  if (node.tasks) {
    const t = node.tasks;
    parts.push(`${t.done + t.failed}/${t.total}`);
    if (t.failed) {
      parts.push(`${t.failed} failed`);
    }
    if (t.running) {
      parts.push(`${t.running} running`);
    }
  }
  parts.push(node.done === null ? 'not settled' : `settled ${formatAge(node.done)}`);
  return parts.join(' · ');
}

/** The marker tree level by level (each expandable to its nodes) and the callback. */
function TreeView(props: { group: IGroup }): JSX.Element {
  const { group } = props;
  const [open, setOpen] = React.useState<number | null>(null);
  const attempts = group.callback_attempts ?? 0;
  const owner = group.callback_owner ?? null;
  return (
    <div className="jp-persist-facts jp-persist-levels">
      <div>
        Marker tree: {group.levels.length ? '' : 'no internal node settled yet'}
        {group.completed !== null && `root settled ${formatAge(group.completed)}`}
      </div>
      <ul className="jp-persist-tree">
        {group.levels.map(level => (
          <li
            key={level.level}
            className="jp-persist-tree-level"
            data-level={level.level}
            aria-expanded={open === level.level}
            tabIndex={0}
            onClick={() => setOpen(open === level.level ? null : level.level)}
            onKeyDown={event => {
              if (event.key === 'Enter' || event.key === ' ') {
                event.preventDefault();
                setOpen(open === level.level ? null : level.level);
              }
            }}
          >
            {open === level.level ? '▾' : '▸'} level {level.level}: {levelText(level)}
            {open === level.level && (
              <div className="jp-persist-tree-nodes">
                {(level.nodes ?? []).map(node => (
                  <span
                    key={node.node}
                    className={`jp-persist-tree-node${node.tasks?.failed ? ' jp-mod-failed' : ''}`}
                    title={node.node}
                    data-node={node.node}
                  >
                    #{node.index} {nodeText(node)}
                  </span>
                ))}
                {(level.nodes?.length ?? 0) < (level.total ?? level.done) && (
                  <span className="jp-persist-tree-node">
                    … {(level.total ?? level.done) - (level.nodes?.length ?? 0)} more
                  </span>
                )}
              </div>
            )}
          </li>
        ))}
      </ul>
      <div className="jp-persist-callback">
        Completion callback:{' '}
        {group.callback === null
          ? 'not fired'
          : `fired ${formatAge(group.callback)}` +
            (owner ? ` on ${owner.host}${owner.pid !== null ? ` (pid ${owner.pid})` : ''}` : '') +
            (group.callback_finished
              ? `, returned ${formatAge(group.callback_finished)}`
              : ', still running') +
            (attempts > 1 ? ` (${attempts} attempts: an earlier caller died)` : '')}
      </div>
    </div>
  );
}
