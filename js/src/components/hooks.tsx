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
