import * as React from 'react';

import { formatAge, formatBytes, formatCount, formatDuration } from '../format';
import { PanelModel } from '../model';
import { ICell, ICellsReply, ICellVariable, ICellVariant } from '../request';
import { Preview, summaryFacts } from './Preview';
import { LiveView, navRowProps, onListKeyDown } from './hooks';

/** The cached cells of a store, by name, with their notebook, cell and variants. */
export function CellsView(props: { model: PanelModel; store: string }): JSX.Element {
  const { model, store } = props;
  // Follows the store while on screen: a new %%persist run shows by itself.
  return (
    <LiveView
      load={() => model.api.cells(store)}
      deps={[store, model.version]}
      live={model.settings.liveUpdates}
      what="the cells"
    >
      {(reply: ICellsReply) => <CellList model={model} store={store} cells={reply.cells} />}
    </LiveView>
  );
}

function CellList(props: { model: PanelModel; store: string; cells: ICell[] }): JSX.Element {
  const { model, store, cells } = props;
  const [open, setOpen] = React.useState<string | null>(null);
  if (!cells.length) {
    return (
      <p className="jp-persist-empty">
        No cached cells in this store. Start a cell with <code>%%persist NAME</code> to cache it.
      </p>
    );
  }
  return (
    <ul className="jp-persist-list jp-persist-cells" onKeyDown={onListKeyDown}>
      {cells.map(cell => (
        <CellRow
          key={cell.key}
          cell={cell}
          expanded={open === cell.key}
          onToggle={() => setOpen(open === cell.key ? null : cell.key)}
          onClear={(variant?: string) => void model.deleteCell(store, cell.name, variant)}
          onOpen={() => model.host.openNotebook(cell.notebook, cell.cell_id)}
        />
      ))}
    </ul>
  );
}

function CellRow(props: {
  cell: ICell;
  expanded: boolean;
  onToggle: () => void;
  onClear: (variant?: string) => void;
  onOpen: () => void;
}): JSX.Element {
  const { cell } = props;
  const where = cell.notebook
    ? `${cell.notebook}${cell.cell_id ? ` · cell ${cell.cell_id.slice(0, 8)}` : ''}`
    : 'notebook unknown';
  return (
    <li
      className="jp-persist-item jp-persist-cell"
      data-cell={cell.name}
      data-notebook={cell.notebook || undefined}
      data-cell-id={cell.cell_id || undefined}
      aria-expanded={props.expanded}
      {...navRowProps(props.onToggle, () => props.onClear())}
    >
      <div className="jp-persist-row">
        <div className="jp-persist-name">{cell.name}</div>
        <button
          className="jp-persist-clear jp-mod-styled"
          title={`Clear every stored variant of ${cell.name}`}
          onClick={event => {
            event.stopPropagation();
            props.onClear();
          }}
        >
          Clear
        </button>
      </div>
      <div className="jp-persist-facts">{where}</div>
      <div className="jp-persist-facts">
        {cell.variants.length} variant{cell.variants.length === 1 ? '' : 's'} ·{' '}
        {formatBytes(cell.size)} · ran {formatAge(cell.created)} · took{' '}
        {formatDuration(cell.duration)} · {cell.hits} hit{cell.hits === 1 ? '' : 's'}
      </div>
      {props.expanded && (
        <div className="jp-persist-details" onClick={event => event.stopPropagation()}>
          {cell.notebook && (
            <button className="jp-persist-open jp-mod-styled" onClick={props.onOpen}>
              Open in notebook
            </button>
          )}
          {cell.variants.map(variant => (
            <Variant
              key={variant.variant}
              variant={variant}
              onClear={() => props.onClear(variant.variant)}
            />
          ))}
        </div>
      )}
    </li>
  );
}

function Variant(props: { variant: ICellVariant; onClear: () => void }): JSX.Element {
  const { variant } = props;
  return (
    <div className="jp-persist-variant" data-variant={variant.variant}>
      <div className="jp-persist-row">
        <span className="jp-persist-mono">{variant.variant.slice(0, 12)}</span>
        <button
          className="jp-persist-clear-variant jp-mod-styled"
          title="Clear this variant only"
          onClick={props.onClear}
        >
          Clear variant
        </button>
      </div>
      <div className="jp-persist-facts">
        ran {formatAge(variant.created)} · took {formatDuration(variant.duration)} ·{' '}
        {formatCount(variant.hits, 'hit', 'hits')} ·{' '}
        {formatCount(variant.outputs ?? 0, 'output', 'outputs')}
      </div>
      <table className="jp-persist-table jp-persist-variables">
        <tbody>
          {variant.variables.map(v => (
            <VariableRow key={v.name} variable={v} />
          ))}
        </tbody>
      </table>
      {variant.mode === 'run' && (
        <div className="jp-persist-facts">runs instead of restoring: {variant.run_reason}</div>
      )}
      {variant.inputs.length > 0 && (
        <div className="jp-persist-facts">depends on: {variant.inputs.join(', ')}</div>
      )}
      {variant.code && <pre className="jp-persist-code">{variant.code}</pre>}
    </div>
  );
}

/**
 * One stored variable: name, type, size and its summary's facts (shape, dtype, range);
 * click it for the whole preview (a frame's head, a thumbnail, the repr). Built from the
 * stored summary only, never from the value.
 */
function VariableRow(props: { variable: ICellVariable }): JSX.Element {
  const { variable } = props;
  const [open, setOpen] = React.useState(false);
  const summary = variable.summary ?? null;
  const facts = summary ? summaryFacts(summary).join(' · ') : '';
  // The panel is narrow: name, short type and size on one line, the facts below them.
  const shortType = variable.type.split('.').pop() ?? variable.type;
  return (
    <tr
      data-variable={variable.name}
      className={summary ? 'jp-persist-variable jp-mod-previewable' : 'jp-persist-variable'}
      title={summary ? 'Show the stored preview' : undefined}
      aria-expanded={summary ? open : undefined}
      onClick={summary ? () => setOpen(!open) : undefined}
    >
      <td>
        <div className="jp-persist-row">
          <span className="jp-persist-mono jp-persist-variable-name">{variable.name}</span>
          <span title={variable.type}>{shortType}</span>
          {variable.stored_with?.length ? (
            <span title="Stored in one entry with these variables; its bytes are counted on the first">
              with {variable.stored_with.join(', ')}
            </span>
          ) : (
            <span>{formatBytes(variable.size)}</span>
          )}
        </div>
        {facts && <div className="jp-persist-variable-facts">{facts}</div>}
        {open && summary && (
          <div className="jp-persist-variable-preview">
            <Preview summary={summary} showFacts={false} />
          </div>
        )}
      </td>
    </tr>
  );
}
