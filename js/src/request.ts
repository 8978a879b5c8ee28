import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One store found under the server's root directory. */
export interface IStoreSummary {
  /** Path relative to the server root, `/`-separated. */
  path: string;
  /**
   * Number of live entries (0 when the store is empty or unreadable); null while the
   * server is still counting them (the listing's `pending` says how many; list again).
   */
  entries: number | null;
  /** Bytes on disk of the store's own files (nested stores not included). */
  size: number;
  /** Last modification, seconds since the epoch. */
  modified: number;
  /** Why the index could not be read, if it could not. */
  error: string | null;
  /** Paths of the stores nested inside this one. */
  nested: string[];
}

/** Reply of `GET stores`. */
export interface IStoresReply {
  root: string;
  stores: IStoreSummary[];
  /** True when the scan stopped early (too many directories). */
  truncated: boolean;
  /** Stores whose entries are still being counted (their `entries` is null). */
  pending: number;
}

/** One entry of a store, described from its stored JSON header (never unpickled). */
export interface IEntrySummary {
  key: string;
  /** Type of the stored value, e.g. `numpy.ndarray`. */
  type: string;
  serializer: string;
  size: number;
  /** Creation time, seconds since the epoch. */
  created: number;
  expires: number | null;
  /** The JSON summary written with the value: `repr`, `shape`, `dtype`, `head`, ... */
  summary: { [name: string]: unknown };
  /** The small JSON the writer attached (`{"variable": ...}` for a cell's variable). */
  meta: { [name: string]: unknown };
}

/** Reply of `GET stores/entries`. */
export interface IEntriesReply {
  path: string;
  entries: IEntrySummary[];
  /** Entries matching the filter, over all pages. */
  total: number;
  /** Offset of this page (-1 when paged by key). */
  offset: number;
  /** Key to pass as `after` for the next page; null on the last page. */
  next: string | null;
  truncated: boolean;
}

/** A variable stored by a cached cell. */
export interface ICellVariable {
  name: string;
  type: string;
  size: number | null;
  /** Variables stored in one entry with this one (its bytes are counted on the first). */
  stored_with?: string[];
  /**
   * The variable's own stored summary (shape, dtype, min/max, a frame's head, repr...),
   * also when it was stored packed with others; null for cells stored before it was kept.
   */
  summary?: IEntrySummary['summary'] | null;
}

/** One stored variant (one key: code + inputs) of a cached cell. */
export interface ICellVariant {
  name: string;
  variant: string;
  notebook: string;
  cell_id: string;
  created: number;
  duration: number | null;
  size: number;
  variables: ICellVariable[];
  outputs: number | null;
  inputs: string[];
  code: string;
  hits: number;
  expires: number | null;
  /** `run` when the cell cache runs this cell rather than restoring it (see run_reason). */
  mode?: string;
  run_reason?: string;
}

/** A cached cell with its variants, newest first. */
export interface ICell {
  name: string;
  key: string;
  notebook: string;
  cell_id: string;
  created: number;
  duration: number | null;
  size: number;
  hits: number;
  variants: ICellVariant[];
}

/** Reply of `GET stores/cells`. */
export interface ICellsReply {
  path: string;
  cells: ICell[];
}

/** One cached call of a `persist_ext.cache` function. */
export interface ICachedCall {
  /** The call key (32 hex digits). */
  key: string;
  name: string;
  /** A short repr of the call, e.g. `slow(3)`. */
  call: string;
  size: number;
  created: number;
  duration: number | null;
  expires: number | null;
  type: string;
  hits: number;
  last_used: number;
  /** A process is computing it now (it cannot be cleared). */
  computing: boolean;
}

/** A cached function and its calls (the most recently used first). */
export interface ICachedFunction {
  /** The function's folder in the store: pass it as `name` to clear. */
  key: string;
  name: string;
  calls: ICachedCall[];
  calls_total: number;
  hits: number;
  size: number;
  last_used: number | null;
  slowest: number | null;
  computing: number;
}

/** Reply of `GET stores/functions`. */
export interface IFunctionsReply {
  path: string;
  functions: ICachedFunction[];
}

/** Counts of a task group's tasks (their current instance). */
export interface IGroupCounts {
  done: number;
  failed: number;
  running: number;
  todo: number;
}

/** One row of a group's task table. */
export interface ITaskRow {
  task: string;
  instance: string;
  status: string;
  tries: number;
  started: number | null;
  ended: number | null;
  duration: number | null;
  output: string;
  error: string;
}

/** Tasks under one marker-tree node, by state. */
export interface INodeTasks {
  done: number;
  failed: number;
  running: number;
  todo: number;
  total: number;
}

/** One node of a marker-tree level: when it settled (null: not yet) and its tasks. */
export interface ITreeNode {
  node: string;
  index: number;
  done: number | null;
  tasks?: INodeTasks;
}

/** One level of a group's marker tree. */
export interface ITreeLevel {
  level: number;
  /** Settled nodes of this level. */
  done: number;
  /** Nodes of this level (absent for stores that did not record the tree's shape). */
  total?: number;
  /** Nodes holding a failed task (null when the task order is unknown). */
  failing?: number | null;
  /** The first 200 nodes (every node with `total`, else the settled ones). */
  nodes?: ITreeNode[];
}

/** The process that called a group's completion callback. */
export interface ICallbackOwner {
  host: string;
  pid: number | null;
  at: number;
}

/** A task group read from the store. */
export interface IGroup {
  name: string;
  total: number;
  counts: IGroupCounts;
  started: number | null;
  updated: number | null;
  /** A process holds the group's lease (it is running now). */
  running: boolean;
  state: 'running' | 'interrupted' | 'done' | 'failed' | 'idle';
  rate: number | null;
  eta: number | null;
  /** Settled internal nodes of the marker tree, level by level (first 200 nodes each). */
  levels: ITreeLevel[];
  completed: number | null;
  /** When the completion callback was first claimed (it fired). */
  callback: number | null;
  /** When it returned (or raised); it is never called again. */
  callback_finished?: number | null;
  /** Claims made: more than one means a process died during the callback. */
  callback_attempts?: number;
  /** Where the callback ran: host, pid and when it was claimed. */
  callback_owner?: ICallbackOwner | null;
  /** Changes whenever anything shown changes: pass it back as `since`. */
  version: string;
  tasks_total: number;
  offset: number;
}

/** Reply of `GET stores/group`. */
export interface IGroupReply extends IGroup {
  path: string;
  tasks: ITaskRow[];
}

/** Reply of `GET stores/groups`. */
export interface IGroupsReply {
  path: string;
  groups: IGroup[];
  /** Changes whenever any group changes: pass it back as `since` to wait for news. */
  version: string;
}

/** Build `endPoint?query` from defined parameters only. */
export function withQuery(
  endPoint: string,
  params: { [name: string]: string | number | undefined | null }
): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') {
      query.set(name, String(value));
    }
  }
  const text = query.toString();
  return text ? `${endPoint}?${text}` : endPoint;
}

/**
 * Call the persist_ext server extension.
 *
 * `ServerConnection` adds Jupyter's token or XSRF header, so DELETE and POST pass the
 * server's XSRF check.
 *
 * @param endPoint path below `/persist-ext/api/`
 * @param init fetch options
 * @returns the decoded JSON reply
 * @throws ServerConnection.NetworkError or ServerConnection.ResponseError
 */
export async function requestAPI<T>(endPoint = '', init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'persist-ext', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    if ((error as Error).name === 'AbortError') {
      throw error;
    }
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (e.g. a proxy's error page): keep the text for the error message.
    }
  }
  if (!response.ok) {
    const message =
      typeof data === 'object' && data !== null && 'message' in data
        ? String((data as { message: unknown }).message)
        : text;
    throw new ServerConnection.ResponseError(response, message);
  }
  return data as T;
}

/** The calls the panel makes; components receive it, so tests can give their own. */
export interface IPersistAPI {
  stores(): Promise<IStoresReply>;
  entries(
    path: string,
    options: {
      prefix?: string;
      glob?: string;
      after?: string | null;
      offset?: number;
      limit: number;
    }
  ): Promise<IEntriesReply>;
  deleteEntry(path: string, key: string): Promise<void>;
  cells(path: string): Promise<ICellsReply>;
  deleteCell(path: string, name: string, variant?: string): Promise<void>;
  functions(path: string): Promise<IFunctionsReply>;
  clearCalls(path: string, name: string, call?: string): Promise<void>;
  groups(
    path: string,
    options?: { since?: string; wait?: number; signal?: AbortSignal }
  ): Promise<IGroupsReply>;
  group(
    path: string,
    name: string,
    options: { since?: string; wait?: number; offset?: number; limit?: number; status?: string },
    signal?: AbortSignal
  ): Promise<IGroupReply>;
  replay(path: string, name: string, tasks?: string[]): Promise<string[]>;
}

/** The real API, through Jupyter's server connection. */
export const serverAPI: IPersistAPI = {
  stores: () => requestAPI<IStoresReply>('stores'),
  entries: (path, options) =>
    requestAPI<IEntriesReply>(
      withQuery('stores/entries', {
        path,
        prefix: options.prefix,
        glob: options.glob,
        after: options.after,
        offset: options.after ? undefined : options.offset,
        limit: options.limit
      })
    ),
  deleteEntry: async (path, key) => {
    await requestAPI(withQuery('stores/entries', { path, key }), { method: 'DELETE' });
  },
  cells: path => requestAPI<ICellsReply>(withQuery('stores/cells', { path })),
  deleteCell: async (path, name, variant) => {
    await requestAPI(withQuery('stores/cells', { path, name, variant }), { method: 'DELETE' });
  },
  functions: path => requestAPI<IFunctionsReply>(withQuery('stores/functions', { path })),
  clearCalls: async (path, name, call) => {
    await requestAPI(withQuery('stores/functions', { path, name, call }), { method: 'DELETE' });
  },
  groups: (path, options = {}) =>
    requestAPI<IGroupsReply>(
      withQuery('stores/groups', { path, since: options.since, wait: options.wait }),
      { signal: options.signal }
    ),
  group: (path, name, options, signal) =>
    requestAPI<IGroupReply>(withQuery('stores/group', { path, name, ...options }), { signal }),
  replay: async (path, name, tasks) => {
    const reply = await requestAPI<{ replayed: string[] }>(
      withQuery('stores/group/replay', { path, name }),
      { method: 'POST', body: JSON.stringify(tasks ? { tasks } : {}) }
    );
    return reply.replayed;
  }
};
