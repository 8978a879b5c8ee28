import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { IEntriesReply, IStoresReply, requestAPI } from './request';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2C7 2 3 3.8 3 6v12c0 2.2 4 4 9 4s9-1.8 9-4V6c0-2.2-4-4-9-4zm0 2c4.4 0 7 1.5 7 2s-2.6 2-7 2-7-1.5-7-2 2.6-2 7-2zm7 14c0 .5-2.6 2-7 2s-7-1.5-7-2v-2.3c1.7.9 4.2 1.3 7 1.3s5.3-.4 7-1.3V18zm0-5c0 .5-2.6 2-7 2s-7-1.5-7-2v-2.3c1.7.9 4.2 1.3 7 1.3s5.3-.4 7-1.3V13z"/>
  </g>
</svg>`;

export const persistIcon = new LabIcon({ name: 'persist-ext:store', svgstr: ICON_SVG });

/** `1536` -> `1.5 KiB`. */
function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Seconds since the epoch -> `3 min ago`. */
function formatAge(seconds: number): string {
  const delta = Math.max(0, Date.now() / 1000 - seconds);
  const steps: [number, string][] = [
    [86400, 'd'],
    [3600, 'h'],
    [60, 'min']
  ];
  for (const [size, label] of steps) {
    if (delta >= size) {
      return `${Math.floor(delta / size)} ${label} ago`;
    }
  }
  return `${Math.floor(delta)} s ago`;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = ''
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

/** A two-line list item: a name that wraps, then a muted line of facts. */
function item(className: string, name: string, facts: string[]): HTMLLIElement {
  const node = element('li', `jp-persist-item ${className}`);
  node.append(
    element('div', 'jp-persist-name', name),
    element('div', 'jp-persist-facts', facts.join(' · '))
  );
  return node;
}

/** The "Persist" sidebar: stores under the server root, then one store's entries. */
export class PersistPanel extends Widget {
  private _header = element('div', 'jp-persist-header');
  private _content = element('div', 'jp-persist-content');
  private _selected: string | null = null;

  constructor() {
    super();
    this.id = 'persist-ext-sidebar';
    this.addClass('jp-persist-panel');
    this.title.icon = persistIcon;
    this.title.caption = 'Persist';
    const refresh = element('button', 'jp-persist-refresh jp-mod-styled', 'Refresh');
    refresh.addEventListener('click', () => void this.refresh());
    this._header.append(element('h2', 'jp-persist-title', 'Persist'), refresh);
    this.node.append(this._header, this._content);
  }

  /** Reload the store list, or the selected store's entries. */
  async refresh(): Promise<void> {
    this._show(element('p', 'jp-persist-status', 'Loading…'));
    try {
      if (this._selected === null) {
        this._showStores(await requestAPI<IStoresReply>('stores'));
      } else {
        const query = new URLSearchParams({ path: this._selected });
        this._showEntries(await requestAPI<IEntriesReply>(`stores/entries?${query}`));
      }
    } catch (error) {
      this._show(element('p', 'jp-persist-error', `Could not load: ${(error as Error).message}`));
    }
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  private _show(...nodes: HTMLElement[]): void {
    this._content.replaceChildren(...nodes);
  }

  private _open(path: string | null): void {
    this._selected = path;
    void this.refresh();
  }

  private _showStores(reply: IStoresReply): void {
    const where = element('p', 'jp-persist-status', `Stores under ${reply.root}`);
    if (reply.stores.length === 0) {
      this._show(where, element('p', 'jp-persist-empty', 'No stores found.'));
      return;
    }
    const list = element('ul', 'jp-persist-list jp-persist-stores');
    for (const store of reply.stores) {
      const entries = store.error === null ? `${store.entries} entries` : 'unreadable';
      const node = item('jp-persist-store', store.path, [
        entries,
        formatBytes(store.size),
        `modified ${formatAge(store.modified)}`
      ]);
      node.dataset.path = store.path;
      node.title = store.error ?? `Show the entries of ${store.path}`;
      node.addEventListener('click', () => this._open(store.path));
      list.appendChild(node);
    }
    const notes = reply.truncated
      ? [element('p', 'jp-persist-status', 'Scan stopped early: too many folders.')]
      : [];
    this._show(where, list, ...notes);
  }

  private _showEntries(reply: IEntriesReply): void {
    const back = element('button', 'jp-persist-back jp-mod-styled', '← All stores');
    back.addEventListener('click', () => this._open(null));
    const where = element('p', 'jp-persist-status', `Store ${reply.path}`);
    if (reply.entries.length === 0) {
      this._show(back, where, element('p', 'jp-persist-empty', 'This store is empty.'));
      return;
    }
    const list = element('ul', 'jp-persist-list jp-persist-entries');
    for (const entry of reply.entries) {
      const node = item('jp-persist-entry', entry.key, [
        entry.type,
        formatBytes(entry.size),
        formatAge(entry.created)
      ]);
      node.dataset.key = entry.key;
      const repr = entry.summary['repr'];
      if (typeof repr === 'string') {
        node.title = repr; // the short repr stored with the value, on hover
      }
      list.appendChild(node);
    }
    const notes = reply.truncated
      ? [element('p', 'jp-persist-status', `Showing the first ${reply.entries.length} entries.`)]
      : [];
    this._show(back, where, list, ...notes);
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'persist-ext:plugin',
  description: 'A left-sidebar panel listing persist_ext stores and their entries.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new PersistPanel();
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, panel.id);
  }
};

export default plugin;
