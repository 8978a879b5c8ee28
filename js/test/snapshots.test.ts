import { INotebookLike, MODEL_NOT_FOUND, showSnapshots } from '../src/snapshots';

/** A notebook of one cell whose single output is a widget view ipywidgets could not find. */
function reopened(html: string | string[], trusted = true): INotebookLike & { shown: unknown[] } {
  const notebook = document.createElement('div');
  const cell = document.createElement('div');
  const child = document.createElement('div');
  const output = document.createElement('div');
  output.className = 'jp-OutputArea-output jupyter-widgets';
  output.textContent = MODEL_NOT_FOUND;
  child.appendChild(output);
  cell.appendChild(child);
  notebook.appendChild(cell);
  const shown: unknown[] = [];
  return {
    shown,
    node: notebook,
    widgets: [
      {
        node: cell,
        outputArea: {
          widgets: [{ node: child }],
          model: { get: () => ({ data: { 'text/html': html }, trusted }) }
        }
      }
    ],
    rendermime: {
      createRenderer: () => {
        const node = document.createElement('div');
        return {
          node,
          renderModel: async model => {
            shown.push(model);
            node.innerHTML = String(model.data['text/html']);
          }
        };
      }
    }
  };
}

describe('saved displays reopened without their kernel', () => {
  it("show persist_ext's snapshot instead of ipywidgets' error", async () => {
    const html = '<div class="persist-ext-browser"><b>Store</b> — 1 key</div>';
    const notebook = reopened(html, false);
    expect(await showSnapshots(notebook)).toBe(1);
    expect(notebook.node.textContent).toBe('Store — 1 key');
    expect(notebook.shown).toEqual([
      expect.objectContaining({ data: { 'text/html': html }, trusted: false })
    ]);
    expect(await showSnapshots(notebook)).toBe(0); // once
  });

  it('join a snapshot saved as a list of lines', async () => {
    const notebook = reopened(['<div class="persist-ext-progress">', 'loop finished</div>']);
    expect(await showSnapshots(notebook)).toBe(1);
    expect(notebook.node.textContent).toBe('loop finished');
  });

  it("leave another library's widget to ipywidgets", async () => {
    const notebook = reopened('<div class="other">IntSlider</div>');
    expect(await showSnapshots(notebook)).toBe(0);
    expect(notebook.node.textContent).toBe(MODEL_NOT_FOUND);
  });
});
