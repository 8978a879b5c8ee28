import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import * as React from 'react';

import { Panel } from '../src/components/Panel';
import { DEFAULT_STATE, PanelModel } from '../src/model';
import { IGroup, ITaskRow } from '../src/request';
import { FakeAPI, FakeHost, group } from './fakes';

function setup(state = {}) {
  return renderWith(new FakeAPI(), state);
}

function renderWith(api: FakeAPI, state = {}) {
  const host = new FakeHost();
  const model = new PanelModel(api, host, { store: null, tab: 'cells', filter: '', ...state });
  const view = render(<Panel model={model} />);
  return { api, host, model, view };
}

describe('Panel', () => {
  it('lists stores, nested ones indented, unreadable ones with the reason', async () => {
    const { view } = setup();
    await screen.findByText('.persist/demo');
    const rows = view.container.querySelectorAll('li.jp-persist-store');
    expect(Array.from(rows).map(r => r.getAttribute('data-path'))).toEqual([
      '.persist',
      '.persist/demo',
      'broken'
    ]);
    expect(rows[1].classList.contains('jp-mod-nested')).toBe(true);
    expect(rows[2].textContent).toContain('not a database');
    expect(view.container.textContent).toContain('3 stores under the server root');
  });

  it('shows "counting…" while the server counts, then lists again by itself', async () => {
    const api = new FakeAPI();
    api.countingRounds = 2;
    const model = new PanelModel(api, new FakeHost(), DEFAULT_STATE);
    const view = render(<Panel model={model} />);
    await screen.findByText('big');
    expect(view.container.querySelector('li.jp-persist-store')?.textContent).toContain('counting…');
    await screen.findByText('.persist/demo', undefined, { timeout: 10000 });
    expect(view.container.textContent).toContain('3 entries');
    expect(view.container.textContent).not.toContain('counting…');
    expect(api.calls.filter(c => c.method === 'stores').length).toBe(3);
  });

  it('lists again by itself while on screen: the first store appears, then a new one', async () => {
    // 00-quickstart: open the panel ("No stores yet. Run a %%persist cell..."), then run the
    // cell: the panel must not keep saying there are none. 03-widgets then makes a nested
    // store: it must show up too, without Refresh.
    const api = new FakeAPI();
    const real = api.stores.bind(api);
    let empty = 2;
    let grown = false;
    api.stores = async () => {
      if (empty-- > 0) {
        api.calls.push({ method: 'stores', args: [] });
        return { root: '/root', truncated: false, pending: 0, stores: [] };
      }
      const reply = await real();
      const extra = { ...reply.stores[0], path: 'newcomer/.persist', nested: [] };
      return grown ? { ...reply, stores: [...reply.stores, extra] } : reply;
    };
    const model = new PanelModel(api, new FakeHost(), DEFAULT_STATE);
    const view = render(<Panel model={model} />);
    await screen.findByText(/No stores yet/);
    await screen.findByText('.persist/demo', undefined, { timeout: 20000 });
    expect(view.container.textContent).not.toContain('No stores yet');
    grown = true;
    await screen.findByText('newcomer/.persist', undefined, { timeout: 20000 });
  });

  it('says why a view could not load, through the shared LoadStatus line', async () => {
    const api = new FakeAPI();
    api.stores = () => Promise.reject(new Error('server gone'));
    const model = new PanelModel(api, new FakeHost(), DEFAULT_STATE);
    render(<Panel model={model} />);
    await screen.findByText('Could not load the stores: server gone');
  });

  it('moves between rows with the keyboard and opens with Enter', async () => {
    const { model, view } = setup();
    await screen.findByText('.persist/demo');
    const rows = view.container.querySelectorAll<HTMLElement>('li.jp-persist-store');
    rows[0].focus();
    fireEvent.keyDown(rows[0], { key: 'ArrowDown' });
    expect(document.activeElement).toBe(rows[1]);
    fireEvent.keyDown(rows[1], { key: 'Enter' });
    expect(model.state.store).toBe('.persist/demo');
  });

  it('pages entries by key cursor and filters on the server', async () => {
    jest.useFakeTimers();
    const { api, view } = setup({ store: 's', tab: 'entries' });
    await act(async () => {
      jest.advanceTimersByTime(400);
    });
    await screen.findByText('runs/00000');
    expect(view.container.querySelector('.jp-persist-range')?.textContent).toBe('1–100 of 250');
    fireEvent.click(screen.getByLabelText('Next page'));
    await screen.findByText('runs/00100');
    const last = api.calls.filter(c => c.method === 'entries').pop();
    expect((last?.args[1] as { after: string }).after).toBe('runs/00099');
    fireEvent.click(screen.getByLabelText('Previous page'));
    await screen.findByText('runs/00000');

    const filter = screen.getByLabelText('Filter entries');
    expect(filter.getAttribute('placeholder')?.length).toBeLessThanOrEqual(30);
    expect(filter.getAttribute('title')).toContain('glob');
    fireEvent.change(filter, { target: { value: 'runs/*7' } });
    await act(async () => {
      jest.advanceTimersByTime(400);
    });
    await waitFor(() =>
      expect(view.container.querySelector('.jp-persist-range')?.textContent).toBe('1–25 of 25')
    );
    const filtered = api.calls.filter(c => c.method === 'entries').pop();
    expect((filtered?.args[1] as { glob: string }).glob).toBe('runs/*7');
    jest.useRealTimers();
  });

  it('shows cached cells and clears one after confirmation', async () => {
    const { api, host, view } = setup({ store: 's', tab: 'cells' });
    await screen.findByText('load');
    expect(view.container.textContent).toContain('nb.ipynb · cell c0ffee');
    expect(view.container.textContent).toContain('4 hits');
    fireEvent.click(screen.getByText('load'));
    // The short type is shown, the dotted one in its tooltip (the panel is narrow).
    expect(view.container.querySelector('[title="pandas.DataFrame"]')?.textContent).toBe(
      'DataFrame'
    );
    expect(view.container.textContent).toContain('depends on: var:alpha');
    fireEvent.click(screen.getByText('Open in notebook'));
    expect(host.opened).toEqual([['nb.ipynb', 'c0ffee']]);
    fireEvent.click(screen.getByText('Clear'));
    await waitFor(() => expect(api.count('deleteCell')).toBe(1));
    expect(host.confirmed).toEqual(['Clear cell']);
  });

  it("shows each variable's stored summary, packed or not, and a frame's head on click", async () => {
    const { view } = setup({ store: 's', tab: 'cells' });
    await screen.findByText('load');
    fireEvent.click(screen.getByText('load'));
    const grid = view.container.querySelector('tr[data-variable="grid"]');
    expect(grid?.textContent).toContain('shape (2, 3) · dtype int32 · min 0 · max 5');
    // Packed with frame: its bytes are counted there, not shown as "0 B".
    expect(grid?.textContent).toContain('with frame');
    expect(grid?.textContent).not.toContain('0 B');
    const old = view.container.querySelector('tr[data-variable="old"]');
    expect(old?.classList.contains('jp-mod-previewable')).toBe(false);
    const frame = view.container.querySelector('tr[data-variable="frame"]') as HTMLElement;
    expect(frame.textContent).toContain('shape (2, 1)');
    fireEvent.click(frame);
    const table = frame.querySelector('.jp-persist-variable-preview table');
    expect(table?.textContent).toContain('x');
    expect(Array.from(table?.querySelectorAll('td') ?? []).map(td => td.textContent)).toEqual([
      '3',
      '4'
    ]);
    // The facts line is not repeated inside the preview.
    expect(frame.textContent?.match(/shape \(2, 1\)/g)?.length).toBe(1);
  });

  it('follows groups with one long poll and no requests while nothing changes', async () => {
    const { api, view } = setup({ store: 's', tab: 'groups' });
    await screen.findByText('g');
    expect(view.container.querySelector('.jp-persist-counts')?.textContent).toContain('3 done');
    // The first answer is followed by exactly one waiting request, carrying its version.
    await waitFor(() => expect(api.count('groups')).toBe(2));
    expect(api.calls[api.calls.length - 1].args[1]).toEqual({ since: 'v1', wait: 25 });
    await act(async () => {
      await new Promise(resolve => setTimeout(resolve, 50));
    });
    expect(api.count('groups')).toBe(2);
    // News: the view updates and the next wait starts from the new version.
    await act(async () => {
      api.pendingGroups.shift()?.({ path: 's', groups: [group('g', 'v2', 7)], version: 'v2' });
    });
    await waitFor(() =>
      expect(view.container.querySelector('.jp-persist-counts')?.textContent).toContain('7 done')
    );
    await waitFor(() => expect(api.count('groups')).toBe(3));
    expect(api.calls[api.calls.length - 1].args[1]).toEqual({ since: 'v2', wait: 25 });
    const bar = view.container.querySelector('[role="progressbar"]');
    expect(bar?.getAttribute('aria-valuenow')).toBe('7');
  });

  it('calls tasks recorded as running "interrupted" once no process runs their group', async () => {
    const dead: IGroup = { ...group('g', 'v1', 3), running: false, state: 'interrupted' };
    const { view, counts } = await showGroup(dead, [taskRow('t1', 'running')]);
    expect(counts).toContain('1 interrupted');
    expect(counts).not.toContain('running');
    expect(view.container.querySelector('[role="progressbar"]')?.getAttribute('title')).toContain(
      '1 interrupted'
    );
    fireEvent.click(screen.getByText('g'));
    const cell = await waitFor(() => {
      const found = view.container.querySelector('tr[data-task="t1"] td:nth-child(2)');
      expect(found).not.toBeNull();
      return found;
    });
    expect(cell?.textContent).toBe('interrupted');
  });

  it('replays one failed task from its row, after confirmation', async () => {
    const settled: IGroup = { ...group('g', 'v1', 10), running: false, state: 'failed' };
    const { api, view } = await showGroup(settled, [taskRow('bad1', 'failed')]);
    fireEvent.click(screen.getByText('g'));
    const button = await screen.findByLabelText('Replay task bad1');
    expect(view.container.querySelectorAll('button.jp-persist-replay-task').length).toBe(1);
    fireEvent.click(button);
    await waitFor(() => expect(api.count('replay')).toBe(1));
    expect(api.calls.find(c => c.method === 'replay')?.args).toEqual(['s', 'g', ['bad1']]);
  });

  it('says "running" for a settled group (never "0 interrupted")', async () => {
    const settled: IGroup = { ...group('g', 'v1', 10), running: false, state: 'done' };
    const { counts } = await showGroup(settled);
    expect(counts).toContain('0 running');
    expect(counts).not.toContain('interrupted');
  });
});

/** The groups tab showing only ``shown`` (its task table holding ``tasks``), and its counts. */
async function showGroup(shown: IGroup, tasks: ITaskRow[] = []) {
  const api = new FakeAPI();
  api.groupsReply = { path: 's', groups: [shown], version: 'v1' };
  api.group = (path: string) => Promise.resolve({ ...shown, path, tasks });
  const { view } = renderWith(api, { store: 's', tab: 'groups' });
  await screen.findByText(shown.name);
  const counts = view.container.querySelector('.jp-persist-counts')?.textContent ?? '';
  return { api, view, counts };
}

/** One row of a group's task table. */
function taskRow(task: string, status: string): ITaskRow {
  const ended = status === 'running' ? null : 1001;
  const error = status === 'failed' ? 'ValueError: bad' : '';
  return {
    task,
    instance: task,
    status,
    tries: 1,
    started: 1000,
    ended,
    duration: null,
    output: '',
    error
  };
}
