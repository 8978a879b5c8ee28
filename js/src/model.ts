/** The panel's state and actions, without React or JupyterLab (so jest tests it directly). */

import { formatCount } from './format';
import { IPersistAPI } from './request';

/** Tabs of a store's view. */
export type Tab = 'cells' | 'functions' | 'groups' | 'entries';

/** What survives a page reload (saved in JupyterLab's state database). */
export interface IPanelState {
  /** The open store (path under the server root), or null for the list of stores. */
  store: string | null;
  tab: Tab;
  /** The Entries tab's filter text (a prefix, or a glob with `*?[`). */
  filter: string;
}

export const DEFAULT_STATE: IPanelState = { store: null, tab: 'cells', filter: '' };

/** What the panel asks of its host (JupyterLab, Notebook 7, or a test). */
export interface IPanelHost {
  /** Ask the user to confirm a destructive action; resolves true to go ahead. */
  confirm(title: string, body: string, action: string): Promise<boolean>;
  /** Open a notebook (path under the server root) and scroll to a cell id if given. */
  openNotebook(path: string, cellId: string): void;
  /** Tell the user something went wrong (or right). */
  notify(message: string, kind: 'error' | 'success'): void;
}

/** Panel settings (see schema/plugin.json). */
export interface IPanelSettings {
  pageSize: number;
  liveUpdates: boolean;
}

type Listener = () => void;

/** State, navigation and mutations of the Persist panel. */
export class PanelModel {
  constructor(
    readonly api: IPersistAPI,
    readonly host: IPanelHost,
    state: IPanelState = DEFAULT_STATE
  ) {
    this._state = { ...DEFAULT_STATE, ...state };
  }

  /** Current state (replace it through the setters, never in place). */
  get state(): IPanelState {
    return this._state;
  }

  /** Bumped by `refresh()` and after every change: views reload when it moves. */
  get version(): number {
    return this._version;
  }

  settings: IPanelSettings = { pageSize: 100, liveUpdates: true };

  /** Call `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  /** Called with the new state whenever it changes (the host saves it). */
  onStateChanged: ((state: IPanelState) => void) | null = null;

  openStore(path: string | null): void {
    this._set({ store: path, filter: path === this._state.store ? this._state.filter : '' });
  }

  setTab(tab: Tab): void {
    this._set({ tab });
  }

  setFilter(filter: string): void {
    this._set({ filter });
  }

  /** Apply settings; views reload only if one changed (loading them at start changes none). */
  setSettings(settings: Partial<IPanelSettings>): void {
    const next = { ...this.settings, ...settings };
    const changed = (Object.keys(next) as (keyof IPanelSettings)[]).some(
      key => next[key] !== this.settings[key]
    );
    this.settings = next;
    if (changed) {
      this.refresh();
    }
  }

  /** Reload what is shown. */
  refresh(): void {
    this._version += 1;
    this._emit();
  }

  /** Delete one plain entry after confirmation; true when deleted. */
  async deleteEntry(store: string, key: string): Promise<boolean> {
    const ok = await this.host.confirm(
      'Delete entry',
      `Delete "${key}" from ${store}? This cannot be undone.`,
      'Delete'
    );
    return ok && this._run(() => this.api.deleteEntry(store, key), `Deleted ${key}.`);
  }

  /** Delete a cached cell (every variant) or one variant, after confirmation. */
  async deleteCell(store: string, name: string, variant?: string): Promise<boolean> {
    const what = variant ? `variant ${variant.slice(0, 8)} of cell "${name}"` : `cell "${name}"`;
    const ok = await this.host.confirm(
      variant ? 'Clear variant' : 'Clear cell',
      `Clear the stored ${what} in ${store}? Its variables, outputs and manifest are ` +
        'deleted together; the next run of the cell recomputes it.',
      'Clear'
    );
    return ok && this._run(() => this.api.deleteCell(store, name, variant), `Cleared ${what}.`);
  }

  /** Clear every cached call of a function, or one call, after confirmation. */
  async clearCalls(
    store: string,
    fn: { key: string; name: string },
    call?: { key: string; call: string }
  ): Promise<boolean> {
    const what = call ? `the cached call ${call.call}` : `every cached call of ${fn.name}`;
    const ok = await this.host.confirm(
      call ? 'Clear call' : 'Clear function',
      `Clear ${what} in ${store}? The next such call computes again.`,
      'Clear'
    );
    return (
      ok &&
      this._run(
        () => this.api.clearCalls(store, fn.key, call?.key),
        call ? `Cleared ${call.call}.` : `Cleared ${fn.name}.`
      )
    );
  }

  /** Mark a group's failed tasks (or only failed task ``task``) for replay, after confirmation. */
  async replay(store: string, group: string, task?: string): Promise<boolean> {
    const ok = await this.host.confirm(
      task === undefined ? 'Replay failed tasks' : 'Replay a failed task',
      (task === undefined
        ? `Mark the failed tasks of "${group}" for replay?`
        : `Mark task "${task}" of "${group}" for replay?`) +
        ' They run again, with a fresh try budget, the next time the group runs.',
      'Replay'
    );
    return (
      ok &&
      this._run(async () => {
        const replayed = await this.api.replay(
          store,
          group,
          task === undefined ? undefined : [task]
        );
        this.host.notify(
          `${formatCount(replayed.length, 'task', 'tasks')} marked for replay.`,
          'success'
        );
      }, '')
    );
  }

  private async _run(action: () => Promise<void>, done: string): Promise<boolean> {
    try {
      await action();
    } catch (error) {
      this.host.notify((error as Error).message, 'error');
      this.refresh();
      return false;
    }
    if (done) {
      this.host.notify(done, 'success');
    }
    this.refresh();
    return true;
  }

  private _set(change: Partial<IPanelState>): void {
    this._state = { ...this._state, ...change };
    this.onStateChanged?.(this._state);
    this._emit();
  }

  private _emit(): void {
    for (const listener of [...this._listeners]) {
      listener();
    }
  }

  private _state: IPanelState;
  private _version = 0;
  private _listeners = new Set<Listener>();
}
