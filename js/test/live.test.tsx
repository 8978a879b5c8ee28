import { render, screen, waitFor } from '@testing-library/react';
import * as React from 'react';

import { Panel } from '../src/components/Panel';
import { followDelay, RELIST_MS } from '../src/components/hooks';
import { PanelModel, Tab } from '../src/model';
import { FakeAPI, FakeHost } from './fakes';

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** A FakeAPI whose store gains a cell "second" and a call of "slow" once `grow()` is called. */
function growingAPI(): { api: FakeAPI; grow: () => void } {
  const api = new FakeAPI();
  let grown = false;
  const cells = api.cells.bind(api);
  api.cells = async path => {
    const reply = await cells(path);
    const extra = { ...reply.cells[0], key: 'second', name: 'second' };
    return grown ? { ...reply, cells: [...reply.cells, extra] } : reply;
  };
  const functions = api.functions.bind(api);
  api.functions = async path => {
    const reply = await functions(path);
    if (grown) {
      reply.functions[0] = { ...reply.functions[0], calls_total: 3 };
    }
    return reply;
  };
  return { api, grow: () => (grown = true) };
}

function show(api: FakeAPI, tab: Tab, container?: HTMLElement, live = true) {
  const model = new PanelModel(api, new FakeHost(), { store: 's', tab, filter: '' });
  model.settings = { ...model.settings, liveUpdates: live };
  return render(<Panel model={model} />, container ? { container } : undefined);
}

describe('Cells and Functions tabs follow the store while on screen', () => {
  it('show a newly stored cell without Refresh', async () => {
    // A newcomer keeps the panel open beside the notebook and runs another %%persist cell.
    const { api, grow } = growingAPI();
    const view = show(api, 'cells');
    await screen.findByText('load');
    grow();
    await screen.findByText('second', undefined, { timeout: 4 * RELIST_MS });
    expect(view.container.querySelectorAll('li.jp-persist-cell').length).toBe(2);
  });

  it('count a new cached call without Refresh', async () => {
    const { api, grow } = growingAPI();
    const view = show(api, 'functions');
    await screen.findByText('slow');
    const row = () => view.container.querySelector('li[data-function="slow"]')?.textContent;
    expect(row()).toContain('2 calls');
    grow();
    await waitFor(() => expect(row()).toContain('3 calls'), { timeout: 4 * RELIST_MS });
  });

  it('ask the server nothing while the panel is hidden, and follow again once shown', async () => {
    const { api } = growingAPI();
    const hidden = document.body.appendChild(document.createElement('div'));
    hidden.className = 'lm-mod-hidden'; // how Lumino hides a collapsed sidebar's panel
    show(api, 'cells', hidden);
    await screen.findByText('load');
    await sleep(2.5 * RELIST_MS);
    expect(api.count('cells')).toBe(1);
    hidden.classList.remove('lm-mod-hidden');
    await waitFor(() => expect(api.count('cells')).toBeGreaterThan(1), {
      timeout: 4 * RELIST_MS
    });
  });

  it('ask nothing by themselves when the liveUpdates setting is off', async () => {
    const { api } = growingAPI();
    show(api, 'cells', undefined, false);
    await screen.findByText('load');
    await sleep(2.5 * RELIST_MS);
    expect(api.count('cells')).toBe(1);
  });

  it('wait RELIST_MS between listings, or ten times the last one when that is longer', () => {
    // docs/sidebar-and-server.md: a big root's listing costs the server at most a tenth.
    expect(RELIST_MS).toBe(2000);
    expect(followDelay(0)).toBe(2000);
    expect(followDelay(150)).toBe(2000);
    expect(followDelay(600)).toBe(6000);
  });

  it('hold no task-group request open while hidden; follow live again once shown', async () => {
    const api = new FakeAPI();
    const hidden = document.body.appendChild(document.createElement('div'));
    hidden.className = 'lm-mod-hidden';
    show(api, 'groups', hidden);
    await screen.findByText('g');
    await sleep(2.5 * RELIST_MS);
    expect(api.count('groups')).toBe(1); // the first read, no long poll
    hidden.classList.remove('lm-mod-hidden');
    await waitFor(() => expect(api.pendingGroups.length).toBe(1), { timeout: 4 * RELIST_MS });
  });
});
