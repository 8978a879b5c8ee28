import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Panel } from './components/Panel';
import { DEFAULT_STATE, IPanelHost, IPanelState, PanelModel } from './model';
import { serverAPI } from './request';
import { INotebookLike, watchSnapshots } from './snapshots';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2C7 2 3 3.8 3 6v12c0 2.2 4 4 9 4s9-1.8 9-4V6c0-2.2-4-4-9-4zm0 2c4.4 0 7 1.5 7 2s-2.6 2-7 2-7-1.5-7-2 2.6-2 7-2zm7 14c0 .5-2.6 2-7 2s-7-1.5-7-2v-2.3c1.7.9 4.2 1.3 7 1.3s5.3-.4 7-1.3V18zm0-5c0 .5-2.6 2-7 2s-7-1.5-7-2v-2.3c1.7.9 4.2 1.3 7 1.3s5.3-.4 7-1.3V13z"/>
  </g>
</svg>`;

export const persistIcon = new LabIcon({ name: 'persist-ext:store', svgstr: ICON_SVG });

const PLUGIN_ID = 'persist-ext:plugin';
const STATE_KEY = 'persist-ext:panel';

/** Command ids (palette, context menus, keyboard). */
export const CommandIDs = {
  open: 'persist-ext:open',
  refresh: 'persist-ext:refresh',
  openStore: 'persist-ext:open-store',
  deleteEntry: 'persist-ext:delete-entry',
  clearCell: 'persist-ext:clear-cell',
  openCell: 'persist-ext:open-cell',
  replay: 'persist-ext:replay-failed'
};

/** The "Persist" sidebar: a ReactWidget around the panel's React tree. */
export class PersistPanel extends ReactWidget {
  constructor(readonly model: PanelModel) {
    super();
    this.id = 'persist-ext-sidebar';
    this.addClass('jp-persist-panel');
    this.title.icon = persistIcon;
    this.title.caption = 'Persist';
  }

  protected render(): JSX.Element {
    return <Panel model={this.model} />;
  }

  protected onAfterShow(): void {
    this.model.refresh(); // what is stored may have changed while hidden
  }
}

/** Ask, notify and open notebooks the JupyterLab way. */
function makeHost(app: JupyterFrontEnd): IPanelHost {
  return {
    async confirm(title, body, action) {
      const result = await showDialog({
        title,
        body,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: action })]
      });
      return result.button.accept;
    },
    notify(message, kind) {
      if (kind === 'error') {
        Notification.error(message, { autoClose: 8000 });
      } else {
        Notification.success(message, { autoClose: 3000 });
      }
    },
    openNotebook(path, cellId) {
      if (PageConfig.getOption('notebookPage') === 'tree') {
        // Notebook 7's file tree opens a notebook in a page of its own, out of this page's
        // reach: that page selects the cell named in its address (see selectCellOf).
        const url =
          URLExt.join(PageConfig.getBaseUrl(), 'notebooks', URLExt.encodeParts(path)) +
          (cellId ? `?${CELL_PARAM}=${encodeURIComponent(cellId)}` : '');
        window.open(url, '_blank');
        return;
      }
      void (async () => {
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        const widget: any = await app.commands.execute('docmanager:open', { path });
        await selectCell(widget, cellId);
      })();
    }
  };
}

/** Address parameter naming the cell a Notebook 7 notebook page opened from the panel selects. */
const CELL_PARAM = 'persist-cell';

/** Select and scroll to cell ``cellId`` of notebook panel ``widget`` once it is loaded. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function selectCell(widget: any, cellId: string | null | undefined): Promise<void> {
  await widget?.context?.ready;
  const notebook = widget?.content;
  if (!cellId || !notebook?.widgets) {
    return;
  }
  const index = notebook.widgets.findIndex(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    (cell: any) => cell.model?.id === cellId
  );
  if (index >= 0) {
    notebook.activeCellIndex = index;
    await notebook.scrollToItem?.(index, 'center');
  }
}

/** On a Notebook 7 notebook page opened by "Open in notebook", select the cell it names. */
async function selectCellOf(app: JupyterFrontEnd): Promise<void> {
  const cellId = new URLSearchParams(window.location.search).get(CELL_PARAM);
  if (!cellId) {
    return;
  }
  await app.restored;
  for (let tries = 0; tries < 100; tries++) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const widget: any = app.shell.currentWidget;
    if (widget?.context) {
      await selectCell(widget, cellId);
      return;
    }
    await new Promise(resolve => setTimeout(resolve, 100)); // the page adds its notebook
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'A left-sidebar panel: stores, cached cells, stashes and live task groups.',
  autoStart: true,
  optional: [ILayoutRestorer, IStateDB, ISettingRegistry, ICommandPalette],
  activate: async (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    stateDB: IStateDB | null,
    settings: ISettingRegistry | null,
    palette: ICommandPalette | null
  ) => {
    void selectCellOf(app);
    // A reopened notebook whose kernel is gone: persist_ext's saved displays show their
    // snapshot, not ipywidgets' "model not found" (JupyterLab and Notebook 7 alike).
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: widget => {
        const observer = watchSnapshots((widget as unknown as { content: INotebookLike }).content);
        widget.disposed.connect(() => observer.disconnect());
      }
    });
    const model = new PanelModel(serverAPI, makeHost(app));
    const panel = new PersistPanel(model);
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);

    // The panel's place (store, tab, filter) survives a page reload.
    if (stateDB) {
      model.onStateChanged = state => void stateDB.save(STATE_KEY, { ...state });
      void app.restored
        .then(() => stateDB.fetch(STATE_KEY))
        .then(saved => {
          if (saved && typeof saved === 'object') {
            const state = { ...DEFAULT_STATE, ...(saved as unknown as IPanelState) };
            model.openStore(state.store);
            model.setTab(state.tab);
            model.setFilter(state.filter);
          }
        });
    }
    if (settings) {
      void settings
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = () =>
            model.setSettings({
              pageSize: loaded.get('pageSize').composite as number,
              liveUpdates: loaded.get('liveUpdates').composite as boolean
            });
          apply();
          loaded.changed.connect(apply);
        })
        .catch(() => undefined); // no schema (a development build): defaults apply
    }

    const { commands } = app;
    /** The data attribute `name` of the panel row the context menu was opened on. */
    const target = (name: string): string | null => {
      const node = app.contextMenuHitTest(n => n.dataset[name] !== undefined);
      return node?.dataset[name] ?? null;
    };
    commands.addCommand(CommandIDs.open, {
      label: 'Show Persist panel',
      caption: 'Stores, cached cells, stashes and task groups',
      icon: persistIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Persist panel',
      execute: () => model.refresh()
    });
    commands.addCommand(CommandIDs.openStore, {
      label: 'Open store',
      execute: () => model.openStore(target('path'))
    });
    commands.addCommand(CommandIDs.deleteEntry, {
      label: 'Delete entry…',
      execute: async () => {
        const key = target('key');
        if (key !== null && model.state.store) {
          await model.deleteEntry(model.state.store, key);
        }
      }
    });
    commands.addCommand(CommandIDs.clearCell, {
      label: 'Clear cached cell…',
      execute: async () => {
        const name = target('cell');
        if (name !== null && model.state.store) {
          await model.deleteCell(model.state.store, name);
        }
      }
    });
    commands.addCommand(CommandIDs.openCell, {
      label: 'Open in notebook',
      // Cells stored before notebooks were recorded have nowhere to open.
      isEnabled: () => target('notebook') !== null,
      execute: () => {
        const notebook = target('notebook');
        if (notebook !== null) {
          model.host.openNotebook(notebook, target('cellId') ?? '');
        }
      }
    });
    commands.addCommand(CommandIDs.replay, {
      label: 'Replay failed tasks…',
      execute: async () => {
        const name = target('group');
        if (name !== null && model.state.store) {
          await model.replay(model.state.store, name);
        }
      }
    });
    const menu: [string, string][] = [
      [CommandIDs.openStore, '.jp-persist-store'],
      [CommandIDs.deleteEntry, '.jp-persist-entry'],
      [CommandIDs.openCell, '.jp-persist-cell'],
      [CommandIDs.clearCell, '.jp-persist-cell'],
      [CommandIDs.replay, '.jp-persist-group'],
      [CommandIDs.refresh, '.jp-persist-panel']
    ];
    menu.forEach(([command, selector], rank) =>
      app.contextMenu.addItem({ command, selector, rank })
    );
    palette?.addItem({ command: CommandIDs.open, category: 'Persist' });
    palette?.addItem({ command: CommandIDs.refresh, category: 'Persist' });
  }
};

export default plugin;
