import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** One store found under the server's root directory. */
export interface IStoreSummary {
  /** Path relative to the server root, `/`-separated. */
  path: string;
  /** Number of entries (0 when the store is empty or unreadable). */
  entries: number;
  /** Bytes on disk, all files of the store. */
  size: number;
  /** Last modification, seconds since the epoch. */
  modified: number;
  /** Why the entry count could not be read, if it could not. */
  error: string | null;
}

/** Reply of `GET /persist-ext/api/stores`. */
export interface IStoresReply {
  root: string;
  stores: IStoreSummary[];
  /** True when the scan stopped early (too many directories). */
  truncated: boolean;
}

/** One entry of a store, described from its stored JSON summary (never unpickled). */
export interface IEntrySummary {
  key: string;
  /** Type of the stored value, e.g. `numpy.ndarray`. */
  type: string;
  serializer: string;
  size: number;
  /** Creation time, seconds since the epoch. */
  created: number;
  expires: number | null;
  summary: { [name: string]: unknown };
}

/** Reply of `GET /persist-ext/api/stores/entries?path=...`. */
export interface IEntriesReply {
  path: string;
  entries: IEntrySummary[];
  /** True when only the first entries are listed. */
  truncated: boolean;
}

/**
 * Call the persist_ext server extension.
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
