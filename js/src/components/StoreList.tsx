import * as React from 'react';

import { formatAge, formatBytes, formatCount } from '../format';
import { PanelModel } from '../model';
import { IStoresReply } from '../request';
import { followDelay, LoadStatus, navRowProps, onListKeyDown, useLiveLoad } from './hooks';

/** How long to wait before listing again while entry counts are pending. */
const RECOUNT_MS = 700;

/** Every store under the server root, nested ones indented under their parent. */
export function StoreList(props: { model: PanelModel }): JSX.Element {
  const { model } = props;
  // While the panel is on screen, list again (setting liveUpdates): a store made by a
  // notebook shows up; and while the server is still counting some stores' entries, counts
  // fill in ("counting…" until then), sooner and whatever the setting.
  const root = React.useRef<HTMLDivElement>(null);
  const load = useLiveLoad<IStoresReply>(
    () => model.api.stores(),
    [model.version],
    root,
    (reply, took) =>
      reply?.pending ? RECOUNT_MS : model.settings.liveUpdates ? followDelay(took) : null
  );
  if (!load.data) {
    return <LoadStatus load={load} what="the stores" />;
  }
  const reply = load.data;
  const depth = (path: string) =>
    reply.stores.filter(other => other.nested.includes(path)).length > 0 ? 1 : 0;
  return (
    <div className="jp-persist-view" ref={root}>
      <p className="jp-persist-status" title={reply.root}>
        {formatCount(reply.stores.length, 'store', 'stores')} under the server root
      </p>
      {reply.stores.length === 0 ? (
        <p className="jp-persist-empty">
          No stores yet. Run a <code>%%persist</code> cell or create a stash to make one.
        </p>
      ) : (
        <ul className="jp-persist-list jp-persist-stores" onKeyDown={onListKeyDown}>
          {reply.stores.map(store => (
            <li
              key={store.path}
              className={`jp-persist-item jp-persist-store${depth(store.path) ? ' jp-mod-nested' : ''}`}
              data-path={store.path}
              title={store.error ?? `Open ${store.path}`}
              {...navRowProps(() => model.openStore(store.path))}
            >
              <div className="jp-persist-name">{store.path}</div>
              <div className="jp-persist-facts">
                {store.error !== null
                  ? 'unreadable'
                  : store.entries === null
                    ? 'counting…'
                    : formatCount(store.entries, 'entry', 'entries')}{' '}
                · {formatBytes(store.size)} · modified {formatAge(store.modified)}
              </div>
              {store.error !== null && <div className="jp-persist-error">{store.error}</div>}
            </li>
          ))}
        </ul>
      )}
      {reply.truncated && (
        <p className="jp-persist-status">Scan stopped early: too many folders.</p>
      )}
    </div>
  );
}
