import { fireEvent, render, screen } from '@testing-library/react';
import * as React from 'react';

import { Panel } from '../src/components/Panel';
import { PanelModel } from '../src/model';
import { FakeAPI, FakeHost, group } from './fakes';

describe('Marker tree of a group', () => {
  it('shows each level, expandable to its settled nodes, and when the callback ran', async () => {
    const api = new FakeAPI();
    const now = Date.now() / 1000;
    api.groupsReply = {
      path: 's',
      version: 'v1',
      groups: [
        {
          ...group('g', 'v1', 10),
          levels: [
            {
              level: 1,
              done: 3,
              nodes: [
                { node: 'n1.0', index: 0, done: now },
                { node: 'n1.2', index: 2, done: now }
              ]
            },
            { level: 2, done: 1, nodes: [{ node: 'n2.0', index: 0, done: now }] }
          ],
          completed: now,
          callback: now,
          callback_finished: now,
          callback_attempts: 2
        }
      ]
    };
    const model = new PanelModel(api, new FakeHost(), { store: 's', tab: 'groups', filter: '' });
    const view = render(<Panel model={model} />);
    fireEvent.click(await screen.findByText('g'));
    const level = await screen.findByText(/level 1: 3 nodes settled/);
    expect(view.container.textContent).toContain('level 2: 1 node settled');
    expect(view.container.querySelector('.jp-persist-tree-nodes')).toBeNull();
    fireEvent.click(level);
    const nodes = view.container.querySelectorAll('.jp-persist-tree-node');
    expect(Array.from(nodes).map(n => n.getAttribute('title'))).toEqual(['n1.0', 'n1.2', null]);
    expect(nodes[2].textContent).toBe('… 1 more');
    const callback = view.container.querySelector('.jp-persist-callback')?.textContent;
    expect(callback).toContain('fired just now, returned just now');
    expect(callback).toContain('2 attempts');
  });

  it("counts each node's tasks and says where the callback ran", async () => {
    const api = new FakeAPI();
    const now = Date.now() / 1000;
    const tasks = (done: number, failed: number, total: number) => ({
      done,
      failed,
      running: 0,
      todo: total - done - failed,
      total
    });
    api.groupsReply = {
      path: 's',
      version: 'v1',
      groups: [
        {
          ...group('g', 'v1', 7),
          levels: [
            {
              level: 1,
              done: 2,
              total: 3,
              failing: 1,
              nodes: [
                { node: 'n1.0', index: 0, done: now, tasks: tasks(3, 0, 3) },
                { node: 'n1.1', index: 1, done: now, tasks: tasks(2, 1, 3) },
                { node: 'n1.2', index: 2, done: null, tasks: tasks(0, 0, 1) }
              ]
            }
          ],
          completed: null,
          callback: now,
          callback_finished: null,
          callback_attempts: 1,
          callback_owner: { host: 'gpu-3', pid: 4242, at: now }
        }
      ]
    };
    const model = new PanelModel(api, new FakeHost(), { store: 's', tab: 'groups', filter: '' });
    const view = render(<Panel model={model} />);
    fireEvent.click(await screen.findByText('g'));
    const level = await screen.findByText(/level 1: 2 of 3 nodes settled · 1 with failures/);
    fireEvent.click(level);
    const nodes = view.container.querySelectorAll('.jp-persist-tree-node');
    expect(Array.from(nodes).map(n => n.textContent)).toEqual([
      '#0 3/3 · settled just now',
      '#1 3/3 · 1 failed · settled just now',
      '#2 0/1 · not settled'
    ]);
    expect(nodes[1].classList.contains('jp-mod-failed')).toBe(true);
    expect(view.container.querySelector('.jp-persist-callback')?.textContent).toBe(
      'Completion callback: fired just now on gpu-3 (pid 4242), still running'
    );
  });

  it('says when no callback fired', async () => {
    const api = new FakeAPI();
    const model = new PanelModel(api, new FakeHost(), { store: 's', tab: 'groups', filter: '' });
    const view = render(<Panel model={model} />);
    fireEvent.click(await screen.findByText('g'));
    await screen.findByText(/Completion callback/);
    expect(view.container.querySelector('.jp-persist-callback')?.textContent).toBe(
      'Completion callback: not fired'
    );
  });
});
