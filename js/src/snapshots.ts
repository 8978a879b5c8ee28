/**
 * Saved persist_ext displays in a notebook reopened without their kernel.
 *
 * A display still live when the notebook was saved (a stash browser, a task group still
 * running) keeps its widget in the file beside a text/html snapshot of its state. Once the
 * kernel that owned the widget is gone, ipywidgets draws "Error displaying widget: model not
 * found" in its place; this module puts that output's own snapshot there instead, rendered
 * by the notebook's rendermime (so an untrusted notebook's HTML is sanitized as usual).
 * Nothing here imports @jupyterlab/notebook: the notebook is used through the few members
 * below.
 */

/** What ipywidgets writes where a saved widget's model no longer exists. */
export const MODEL_NOT_FOUND = 'Error displaying widget: model not found';

/** persist_ext's snapshots carry a `persist-ext-...` class (see widgets/_live.py). */
const SNAPSHOT = /class="persist-ext-/;

/** The output fields read here (nbformat's, as the output model gives them). */
interface IOutputLike {
  data: Record<string, unknown>;
  trusted: boolean;
}

interface IOutputAreaLike {
  widgets: readonly { node: HTMLElement }[];
  model: { get(index: number): IOutputLike };
}

interface ICellLike {
  node: HTMLElement;
  outputArea?: IOutputAreaLike;
}

interface IRendererLike {
  node: HTMLElement;
  renderModel(model: {
    data: Record<string, unknown>;
    metadata: Record<string, unknown>;
    trusted: boolean;
    setData(options: unknown): void;
  }): Promise<void>;
}

/** The members of a JupyterLab / Notebook 7 `Notebook` widget used here. */
export interface INotebookLike {
  node: HTMLElement;
  widgets: readonly ICellLike[];
  rendermime: { createRenderer(mimeType: string): IRendererLike };
}

/** Replace each "model not found" of a persist_ext display by its saved snapshot. */
export async function showSnapshots(notebook: INotebookLike): Promise<number> {
  let shown = 0;
  const missing = notebook.node.querySelectorAll<HTMLElement>('.jupyter-widgets');
  for (const node of Array.from(missing)) {
    if (node.textContent !== MODEL_NOT_FOUND || node.dataset.persistSnapshot) {
      continue;
    }
    const area = notebook.widgets.find(cell => cell.node.contains(node))?.outputArea;
    const index = area ? area.widgets.findIndex(child => child.node.contains(node)) : -1;
    if (!area || index < 0) {
      continue;
    }
    const output = area.model.get(index);
    const html = output.data['text/html'];
    const text = Array.isArray(html) ? html.join('') : html;
    if (typeof text !== 'string' || !SNAPSHOT.test(text)) {
      continue; // another library's widget: ipywidgets' words stay
    }
    node.dataset.persistSnapshot = 'shown';
    const renderer = notebook.rendermime.createRenderer('text/html');
    await renderer.renderModel({
      data: { 'text/html': text },
      metadata: {},
      trusted: output.trusted,
      setData: () => undefined
    });
    node.textContent = '';
    node.appendChild(renderer.node);
    shown++;
  }
  return shown;
}

/** Watch a notebook: whenever ipywidgets gives up on a saved display, show its snapshot. */
export function watchSnapshots(notebook: INotebookLike): MutationObserver {
  let queued = false;
  const observer = new MutationObserver(() => {
    if (queued) {
      return;
    }
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      void showSnapshots(notebook);
    });
  });
  observer.observe(notebook.node, { childList: true, subtree: true });
  return observer;
}
