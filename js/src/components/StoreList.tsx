import * as React from 'react';

import { formatAge, formatBytes } from '../format';
import { PanelModel } from '../model';
import { IStoresReply } from '../request';
import { navRowProps, onListKeyDown, useLoad } from './hooks';

/** Every store under the server root, nested ones indented under their parent. */
export function StoreList(props: { model: PanelModel }): JSX.Element {
  const { model } = props;
  const load = useLoad<IStoresReply>(() => model.api.stores(), [model.version]);
  if (load.error) {
    return <p className="jp-persist-error">Could not load the stores: {load.error}</p>;
  }
  if (!load.data) {
    return <p className="jp-persist-status">Loading…</p>;
  }
  const reply = load.data;
  const depth = (path: string) =>
    reply.stores.filter(other => other.nested.includes(path)).length > 0 ? 1 : 0;
  return (
    <div className="jp-persist-view">
      <p className="jp-persist-status" title={reply.root}>
        {reply.stores.length} store(s) under the server root
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
                {store.error === null ? `${store.entries} entries` : 'unreadable'} ·{' '}
                {formatBytes(store.size)} · modified {formatAge(store.modified)}
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
