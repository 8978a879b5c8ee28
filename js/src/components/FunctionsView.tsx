import * as React from 'react';

import { formatAge, formatBytes, formatDuration } from '../format';
import { PanelModel } from '../model';
import { ICachedCall, ICachedFunction, IFunctionsReply } from '../request';
import { LiveView, navRowProps, onListKeyDown } from './hooks';

/** The `persist_ext.cache` functions of a store, by name, with their cached calls. */
export function FunctionsView(props: { model: PanelModel; store: string }): JSX.Element {
  const { model, store } = props;
  // Follows the store while on screen: a new cached call shows by itself.
  return (
    <LiveView
      load={() => model.api.functions(store)}
      deps={[store, model.version]}
      live={model.settings.liveUpdates}
      what="the functions"
    >
      {(reply: IFunctionsReply) => (
        <FunctionList model={model} store={store} functions={reply.functions} />
      )}
    </LiveView>
  );
}

function FunctionList(props: {
  model: PanelModel;
  store: string;
  functions: ICachedFunction[];
}): JSX.Element {
  const { model, store, functions } = props;
  const [open, setOpen] = React.useState<string | null>(null);
  if (!functions.length) {
    return (
      <p className="jp-persist-empty">
        No cached functions in this store. Decorate a function with <code>@persist_ext.cache</code>{' '}
        to cache its calls.
      </p>
    );
  }
  return (
    <ul className="jp-persist-list jp-persist-functions" onKeyDown={onListKeyDown}>
      {functions.map(fn => (
        <FunctionRow
          key={fn.key}
          fn={fn}
          expanded={open === fn.key}
          onToggle={() => setOpen(open === fn.key ? null : fn.key)}
          onClear={(call?: ICachedCall) => void model.clearCalls(store, fn, call)}
        />
      ))}
    </ul>
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function FunctionRow(props: {
  fn: ICachedFunction;
  expanded: boolean;
  onToggle: () => void;
  onClear: (call?: ICachedCall) => void;
}): JSX.Element {
  const { fn } = props;
  return (
    <li
      className="jp-persist-item jp-persist-function"
      data-function={fn.name}
      aria-expanded={props.expanded}
      {...navRowProps(props.onToggle, () => props.onClear())}
    >
      <div className="jp-persist-row">
        <div className="jp-persist-name jp-persist-mono">{fn.name}</div>
        <button
          className="jp-persist-clear jp-mod-styled"
          title={`Clear every cached call of ${fn.name}`}
          disabled={fn.computing > 0}
          onClick={event => {
            event.stopPropagation();
            props.onClear();
          }}
        >
          Clear
        </button>
      </div>
      <div className="jp-persist-facts">
        {plural(fn.calls_total, 'call')} · {plural(fn.hits, 'hit')} · {formatBytes(fn.size)} · last
        used {formatAge(fn.last_used)} · slowest {formatDuration(fn.slowest)}
        {fn.computing > 0 && ` · ${fn.computing} computing now`}
      </div>
      {props.expanded && (
        <div className="jp-persist-details" onClick={event => event.stopPropagation()}>
          {fn.calls.map(call => (
            <CallRow key={call.key} call={call} onClear={() => props.onClear(call)} />
          ))}
          {fn.calls_total > fn.calls.length && (
            <div className="jp-persist-facts">
              {fn.calls.length} most recently used of {fn.calls_total} calls shown
            </div>
          )}
        </div>
      )}
    </li>
  );
}

function CallRow(props: { call: ICachedCall; onClear: () => void }): JSX.Element {
  const { call } = props;
  return (
    <div className="jp-persist-call" data-call={call.key}>
      <div className="jp-persist-row">
        <span className="jp-persist-mono jp-persist-call-repr" title={call.call}>
          {call.call || call.key.slice(0, 12)}
        </span>
        <button
          className="jp-persist-clear-call jp-mod-styled"
          title="Clear this call only"
          disabled={call.computing}
          onClick={props.onClear}
        >
          Clear call
        </button>
      </div>
      <div className="jp-persist-facts">
        {call.type && `${call.type} · `}
        {formatBytes(call.size)} · {plural(call.hits, 'hit')} · last used{' '}
        {formatAge(call.last_used)} · took {formatDuration(call.duration)}
        {call.computing && ' · computing now'}
      </div>
    </div>
  );
}
