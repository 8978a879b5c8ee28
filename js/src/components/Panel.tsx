import * as React from 'react';

import { PanelModel, Tab } from '../model';
import { CellsView } from './CellsView';
import { EntriesView } from './EntriesView';
import { FunctionsView } from './FunctionsView';
import { GroupsView } from './GroupsView';
import { StoreList } from './StoreList';
import { useModel } from './hooks';

const TABS: [Tab, string][] = [
  ['cells', 'Cells'],
  ['functions', 'Functions'],
  ['groups', 'Task groups'],
  ['entries', 'Entries']
];

/** The whole panel: a header, then the list of stores or one store's tabs. */
export function Panel(props: { model: PanelModel }): JSX.Element {
  const { model } = props;
  useModel(model);
  const { store, tab } = model.state;
  return (
    <div className="jp-persist-root">
      <div className="jp-persist-header">
        <h2 className="jp-persist-title">Persist</h2>
        <button
          className="jp-persist-refresh jp-mod-styled"
          title="Reload what is shown"
          onClick={() => model.refresh()}
        >
          Refresh
        </button>
      </div>
      {store === null ? (
        <div className="jp-persist-content">
          <StoreList model={model} />
        </div>
      ) : (
        <div className="jp-persist-content">
          <div className="jp-persist-crumbs">
            <button
              className="jp-persist-back jp-mod-styled"
              onClick={() => model.openStore(null)}
              title="Back to every store"
            >
              ← All stores
            </button>
            <span className="jp-persist-store-path" title={store}>
              {store}
            </span>
          </div>
          <div className="jp-persist-tabs" role="tablist">
            {TABS.map(([id, label]) => (
              <button
                key={id}
                role="tab"
                aria-selected={tab === id}
                className={`jp-persist-tab${tab === id ? ' jp-mod-active' : ''}`}
                data-tab={id}
                onClick={() => model.setTab(id)}
              >
                {label}
              </button>
            ))}
          </div>
          <div role="tabpanel" className="jp-persist-tabpanel">
            {tab === 'cells' && <CellsView model={model} store={store} />}
            {tab === 'functions' && <FunctionsView model={model} store={store} />}
            {tab === 'groups' && <GroupsView model={model} store={store} />}
            {tab === 'entries' && <EntriesView key={store} model={model} store={store} />}
          </div>
        </div>
      )}
    </div>
  );
}
