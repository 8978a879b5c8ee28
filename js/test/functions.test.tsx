import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import * as React from 'react';

import { Panel } from '../src/components/Panel';
import { PanelModel } from '../src/model';
import { FakeAPI, FakeHost } from './fakes';

function setup() {
  const api = new FakeAPI();
  const host = new FakeHost();
  const model = new PanelModel(api, host, { store: 's', tab: 'functions', filter: '' });
  const view = render(<Panel model={model} />);
  return { api, host, model, view };
}

describe('Functions tab', () => {
  it('lists cached functions by name with calls, hits and sizes', async () => {
    const { view } = setup();
    await screen.findByText('slow');
    const rows = view.container.querySelectorAll('li.jp-persist-function');
    expect(Array.from(rows).map(r => r.getAttribute('data-function'))).toEqual(['slow', 'busy']);
    expect(rows[0].textContent).toContain('2 calls · 2 hits · 3.0 kB');
    expect(rows[1].textContent).toContain('1 computing now');
  });

  it('clears one call after confirmation, and nothing when the user cancels', async () => {
    const { api, host } = setup();
    fireEvent.click(await screen.findByText('slow'));
    const buttons = await screen.findAllByText('Clear call');
    host.answer = false;
    fireEvent.click(buttons[1]);
    await waitFor(() => expect(host.confirmed).toEqual(['Clear call']));
    expect(api.count('clearCalls')).toBe(0);
    host.answer = true;
    fireEvent.click(buttons[1]);
    await waitFor(() => expect(api.count('clearCalls')).toBe(1));
    expect(api.calls.find(c => c.method === 'clearCalls')?.args).toEqual([
      's',
      'slow',
      'b'.repeat(32)
    ]);
    expect(host.notes).toContain('Cleared slow(2).');
  });

  it('clears a whole function after confirmation; busy functions cannot be cleared', async () => {
    const { api, host, view } = setup();
    await screen.findByText('slow');
    const clears = view.container.querySelectorAll<HTMLButtonElement>(
      'li.jp-persist-function > .jp-persist-row > button.jp-persist-clear'
    );
    expect(clears[1].disabled).toBe(true); // a call is being computed
    fireEvent.click(clears[0]);
    await waitFor(() => expect(api.count('clearCalls')).toBe(1));
    expect(host.confirmed).toEqual(['Clear function']);
    expect(api.calls.find(c => c.method === 'clearCalls')?.args).toEqual(['s', 'slow', undefined]);
  });
});
