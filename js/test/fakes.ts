import { IPanelHost } from '../src/model';
import {
  ICellsReply,
  IEntriesReply,
  IFunctionsReply,
  IGroup,
  IGroupReply,
  IGroupsReply,
  IPersistAPI,
  IStoresReply
} from '../src/request';

export function group(name: string, version: string, done: number, total = 10): IGroup {
  return {
    name,
    total,
    counts: {
      done,
      failed: 0,
      running: total - done > 0 ? 1 : 0,
      todo: Math.max(total - done - 1, 0)
    },
    started: 1000,
    updated: 1010,
    running: done < total,
    state: done < total ? 'running' : 'done',
    rate: 1,
    eta: total - done,
    levels: [],
    completed: null,
    callback: null,
    version,
    tasks_total: 0,
    offset: 0
  };
}

/** A fake server: records calls, answers from fixtures; groups() can be held open. */
export class FakeAPI implements IPersistAPI {
  calls: { method: string; args: unknown[] }[] = [];
  keys = Array.from({ length: 250 }, (_, i) => `runs/${String(i).padStart(5, '0')}`);
  pendingGroups: ((reply: IGroupsReply) => void)[] = [];
  /** How many `stores()` replies still say a store is being counted. */
  countingRounds = 0;
  groupsReply: IGroupsReply = { path: 's', groups: [group('g', 'v1', 3)], version: 'v1' };

  stores(): Promise<IStoresReply> {
    this.calls.push({ method: 'stores', args: [] });
    if (this.countingRounds > 0) {
      this.countingRounds -= 1;
      return Promise.resolve({
        root: '/root',
        truncated: false,
        pending: 1,
        stores: [{ path: 'big', entries: null, size: 10, modified: 0, error: null, nested: [] }]
      });
    }
    return Promise.resolve({
      root: '/root',
      truncated: false,
      pending: 0,
      stores: [
        {
          path: '.persist',
          entries: 3,
          size: 2048,
          modified: 0,
          error: null,
          nested: ['.persist/demo']
        },
        { path: '.persist/demo', entries: 1, size: 10, modified: 0, error: null, nested: [] },
        { path: 'broken', entries: 0, size: 1, modified: 0, error: 'not a database', nested: [] }
      ]
    });
  }

  entries(
    path: string,
    options: {
      prefix?: string;
      glob?: string;
      after?: string | null;
      offset?: number;
      limit: number;
    }
  ): Promise<IEntriesReply> {
    this.calls.push({ method: 'entries', args: [path, options] });
    let keys = this.keys;
    if (options.prefix) {
      keys = keys.filter(k => k.startsWith(options.prefix as string));
    }
    if (options.glob) {
      const re = new RegExp('^' + options.glob.replace(/\*/g, '.*') + '$');
      keys = keys.filter(k => re.test(k));
    }
    const start = options.after ? keys.indexOf(options.after) + 1 : (options.offset ?? 0);
    const page = keys.slice(start, start + options.limit);
    const more = start + options.limit < keys.length;
    return Promise.resolve({
      path,
      total: keys.length,
      offset: start,
      next: more ? page[page.length - 1] : null,
      truncated: more,
      entries: page.map(key => ({
        key,
        type: 'int',
        serializer: 'pickle',
        size: 4,
        created: 0,
        expires: null,
        summary: { type: 'int', repr: '1' },
        meta: {}
      }))
    });
  }

  deleteEntry(path: string, key: string): Promise<void> {
    this.calls.push({ method: 'deleteEntry', args: [path, key] });
    return Promise.resolve();
  }

  cells(path: string): Promise<ICellsReply> {
    this.calls.push({ method: 'cells', args: [path] });
    const variant = {
      name: 'load',
      variant: 'ab'.repeat(16),
      notebook: 'nb.ipynb',
      cell_id: 'c0ffee',
      created: 0,
      duration: 2.5,
      size: 100,
      variables: [
        {
          name: 'frame',
          type: 'pandas.DataFrame',
          size: 100,
          summary: {
            type: 'pandas.DataFrame',
            shape: [2, 1],
            columns: ['x'],
            head: { columns: ['x'], index: [0, 1], data: [[3], [4]] }
          }
        },
        {
          name: 'grid',
          type: 'numpy.ndarray',
          size: 0,
          stored_with: ['frame'],
          summary: { type: 'numpy.ndarray', shape: [2, 3], dtype: 'int32', min: 0, max: 5 }
        },
        { name: 'old', type: 'int', size: 8, summary: null }
      ],
      outputs: 1,
      inputs: ['var:alpha'],
      code: 'frame = load()',
      hits: 4,
      expires: null
    };
    return Promise.resolve({
      path,
      cells: [
        {
          name: 'load',
          key: 'load',
          notebook: 'nb.ipynb',
          cell_id: 'c0ffee',
          created: 0,
          duration: 2.5,
          size: 100,
          hits: 4,
          variants: [variant]
        }
      ]
    });
  }

  deleteCell(path: string, name: string, variant?: string): Promise<void> {
    this.calls.push({ method: 'deleteCell', args: [path, name, variant] });
    return Promise.resolve();
  }

  functions(path: string): Promise<IFunctionsReply> {
    this.calls.push({ method: 'functions', args: [path] });
    const call = (key: string, repr: string, hits: number, computing = false) => ({
      key,
      name: 'slow',
      call: repr,
      size: 1500,
      created: 0,
      duration: 1.5,
      expires: null,
      type: 'int',
      hits,
      last_used: 0,
      computing
    });
    return Promise.resolve({
      path,
      functions: [
        {
          key: 'slow',
          name: 'slow',
          calls: [call('a'.repeat(32), 'slow(1)', 2), call('b'.repeat(32), 'slow(2)', 0)],
          calls_total: 2,
          hits: 2,
          size: 3000,
          last_used: 0,
          slowest: 1.5,
          computing: 0
        },
        {
          key: 'busy',
          name: 'busy',
          calls: [call('c'.repeat(32), 'busy(9)', 0, true)],
          calls_total: 1,
          hits: 0,
          size: 1500,
          last_used: 0,
          slowest: 1.5,
          computing: 1
        }
      ]
    });
  }

  clearCalls(path: string, name: string, call?: string): Promise<void> {
    this.calls.push({ method: 'clearCalls', args: [path, name, call] });
    return Promise.resolve();
  }

  groups(
    path: string,
    options: { since?: string; wait?: number; signal?: AbortSignal } = {}
  ): Promise<IGroupsReply> {
    this.calls.push({
      method: 'groups',
      args: [path, { since: options.since, wait: options.wait }]
    });
    if (!options.since) {
      return Promise.resolve(this.groupsReply);
    }
    // A long poll: answered when the test pushes news.
    return new Promise(resolve => this.pendingGroups.push(resolve));
  }

  group(path: string, name: string): Promise<IGroupReply> {
    this.calls.push({ method: 'group', args: [path, name] });
    return Promise.resolve({ ...this.groupsReply.groups[0], path, tasks: [] });
  }

  replay(path: string, name: string, tasks?: string[]): Promise<string[]> {
    this.calls.push({ method: 'replay', args: tasks ? [path, name, tasks] : [path, name] });
    return Promise.resolve(['bad#1']);
  }

  count(method: string): number {
    return this.calls.filter(call => call.method === method).length;
  }
}

export class FakeHost implements IPanelHost {
  answer = true;
  confirmed: string[] = [];
  notes: string[] = [];
  opened: [string, string][] = [];

  confirm(title: string): Promise<boolean> {
    this.confirmed.push(title);
    return Promise.resolve(this.answer);
  }
  openNotebook(path: string, cellId: string): void {
    this.opened.push([path, cellId]);
  }
  notify(message: string): void {
    this.notes.push(message);
  }
}
