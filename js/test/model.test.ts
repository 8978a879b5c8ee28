import { PanelModel } from '../src/model';
import { FakeAPI, FakeHost } from './fakes';

describe('PanelModel', () => {
  it('navigates and reports every state change to the host (saved across reloads)', () => {
    const saved: unknown[] = [];
    const model = new PanelModel(new FakeAPI(), new FakeHost());
    model.onStateChanged = state => saved.push(state);
    let changes = 0;
    const stop = model.subscribe(() => (changes += 1));
    model.openStore('.persist');
    model.setTab('entries');
    model.setFilter('runs/');
    expect(model.state).toEqual({ store: '.persist', tab: 'entries', filter: 'runs/' });
    expect(saved[saved.length - 1]).toEqual(model.state);
    model.openStore(null);
    expect(model.state.filter).toBe('');
    stop();
    model.refresh();
    expect(changes).toBe(4);
  });

  it('deletes only after confirmation, then reloads', async () => {
    const api = new FakeAPI();
    const host = new FakeHost();
    const model = new PanelModel(api, host);
    host.answer = false;
    expect(await model.deleteEntry('s', 'k')).toBe(false);
    expect(api.count('deleteEntry')).toBe(0);
    host.answer = true;
    const before = model.version;
    expect(await model.deleteCell('s', 'load', 'ab'.repeat(16))).toBe(true);
    expect(api.calls.find(c => c.method === 'deleteCell')?.args).toEqual([
      's',
      'load',
      'ab'.repeat(16)
    ]);
    expect(model.version).toBeGreaterThan(before);
    expect(host.confirmed).toEqual(['Delete entry', 'Clear variant']);
  });

  it('reports a refused change (e.g. 409 while running) instead of throwing', async () => {
    const api = new FakeAPI();
    api.replay = () => Promise.reject(new Error('Task group is running in another process'));
    const host = new FakeHost();
    const model = new PanelModel(api, host);
    expect(await model.replay('s', 'g')).toBe(false);
    expect(host.notes).toEqual(['Task group is running in another process']);
  });

  it('reloads the views when a setting changes, not when settings load unchanged', () => {
    // At start JupyterLab loads the settings: with the defaults that asked the server for
    // every listing a second time (three listings of the stores within 250 ms).
    const model = new PanelModel(new FakeAPI(), new FakeHost());
    const before = model.version;
    model.setSettings({ pageSize: 100, liveUpdates: true });
    expect(model.version).toBe(before);
    model.setSettings({ pageSize: 50 });
    expect(model.version).toBe(before + 1);
    expect(model.settings).toEqual({ pageSize: 50, liveUpdates: true });
  });
});
