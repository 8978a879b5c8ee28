import * as React from 'react';

import { PanelModel } from '../model';

/** Re-render when the model changes. */
export function useModel(model: PanelModel): void {
  const [, setTick] = React.useState(0);
  React.useEffect(() => model.subscribe(() => setTick(t => t + 1)), [model]);
}

/** The state of an asynchronous load: data, error, loading. */
export interface ILoad<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

/** Run `load` whenever `deps` change; keeps the previous data while reloading. */
export function useLoad<T>(load: () => Promise<T>, deps: React.DependencyList): ILoad<T> {
  const [state, setState] = React.useState<ILoad<T>>({ data: null, error: null, loading: true });
  React.useEffect(() => {
    let live = true;
    setState(previous => ({ ...previous, loading: true }));
    load().then(
      data => live && setState({ data, error: null, loading: false }),
      error => live && setState({ data: null, error: (error as Error).message, loading: false })
    );
    return () => {
      live = false;
    };
  }, deps);
  return state;
}

/** How often a view on screen lists again to follow the store, at least. */
export const RELIST_MS = 2000;

/**
 * The wait before following the store again after a load that took `took` ms: RELIST_MS, or
 * ten times the load's time when that is longer (a big root's listing costs the server at
 * most a tenth of its time).
 */
export function followDelay(took: number): number {
  return Math.max(RELIST_MS, 10 * took);
}

/** Whether `element` is on screen: the page is visible and no enclosing widget is hidden. */
export function onScreen(element: HTMLElement | null): boolean {
  return element !== null && !document.hidden && !element.closest('.lm-mod-hidden');
}

/**
 * `useLoad` that loads again `again(data, took)` ms after each load (`took`: how long it took)
 * while `root`'s element is on screen (`again` null: no more), so a view follows the store
 * without Refresh and costs nothing while hidden (showing the panel reloads it anyway). One
 * load at a time.
 */
export function useLiveLoad<T>(
  load: () => Promise<T>,
  deps: React.DependencyList,
  root: React.RefObject<HTMLElement>,
  again: (data: T | null, took: number) => number | null
): ILoad<T> {
  const [tick, setTick] = React.useState(0);
  const took = React.useRef(0);
  const timed = () => {
    const start = Date.now();
    return load().finally(() => (took.current = Date.now() - start));
  };
  const state = useLoad(timed, [...deps, tick]);
  const delay = state.loading ? null : again(state.data, took.current);
  React.useEffect(() => {
    if (delay === null) {
      return;
    }
    const next = () => {
      if (onScreen(root.current)) {
        setTick(n => n + 1);
      } else {
        timer = setTimeout(next, delay);
      }
    };
    let timer = setTimeout(next, delay);
    return () => clearTimeout(timer);
  }, [state, delay]);
  return state;
}

/**
 * The error or "Loading…" line every view shows around `useLoad`; renders nothing once
 * `load` has data (views render the data themselves, keeping the old data while reloading).
 */
export function LoadStatus<T>(props: { load: ILoad<T>; what: string }): JSX.Element | null {
  const { load, what } = props;
  if (load.error) {
    return (
      <p className="jp-persist-error">
        Could not load {what}: {load.error}
      </p>
    );
  }
  if (!load.data) {
    return <p className="jp-persist-status">Loading…</p>;
  }
  return null;
}

/**
 * A view of what `load` returns that follows the store while on screen when `live` (the
 * liveUpdates setting; see `useLiveLoad`, `followDelay`) and renders the data with `children`.
 */
export function LiveView<T>(props: {
  load: () => Promise<T>;
  deps: React.DependencyList;
  live: boolean;
  what: string;
  children: (data: T) => JSX.Element;
}): JSX.Element {
  const root = React.useRef<HTMLDivElement>(null);
  const { live } = props;
  const load = useLiveLoad(props.load, props.deps, root, (_, took) =>
    live ? followDelay(took) : null
  );
  return (
    <div className="jp-persist-view" ref={root}>
      {load.data ? props.children(load.data) : <LoadStatus load={load} what={props.what} />}
    </div>
  );
}

/**
 * Arrow keys move the focus between the container's `[data-nav]` rows; Home/End jump.
 * Rows handle Enter and Delete themselves (see `navRowProps`).
 */
export function onListKeyDown(event: React.KeyboardEvent<HTMLElement>): void {
  const keys = ['ArrowDown', 'ArrowUp', 'Home', 'End'];
  if (!keys.includes(event.key)) {
    return;
  }
  const rows = Array.from(event.currentTarget.querySelectorAll<HTMLElement>('[data-nav]'));
  if (!rows.length) {
    return;
  }
  const current = rows.indexOf(document.activeElement as HTMLElement);
  let next = current;
  if (event.key === 'ArrowDown') {
    next = Math.min(rows.length - 1, current + 1);
  } else if (event.key === 'ArrowUp') {
    next = Math.max(0, current - 1);
  } else if (event.key === 'Home') {
    next = 0;
  } else {
    next = rows.length - 1;
  }
  event.preventDefault();
  rows[next].focus();
}

/** Props that make a row focusable and keyboard-operable. */
export function navRowProps(
  onOpen?: () => void,
  onDelete?: () => void
): React.HTMLAttributes<HTMLElement> & { 'data-nav': string; tabIndex: number } {
  return {
    'data-nav': '',
    tabIndex: 0,
    onClick: onOpen,
    onKeyDown: (event: React.KeyboardEvent<HTMLElement>) => {
      if (event.target !== event.currentTarget) {
        return;
      }
      if ((event.key === 'Enter' || event.key === ' ') && onOpen) {
        event.preventDefault();
        onOpen();
      } else if (event.key === 'Delete' && onDelete) {
        event.preventDefault();
        onDelete();
      }
    }
  };
}
