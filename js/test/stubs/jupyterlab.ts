// The two @jupyterlab names request.ts imports, for jsdom (the real ones need a server).
// Tests never call the server: components get a fake IPersistAPI.
export const URLExt = {
  join: (...parts: string[]): string => parts.join('/')
};

export class ServerConnection {
  static makeSettings(): { baseUrl: string } {
    return { baseUrl: '/' };
  }
  static makeRequest(): Promise<Response> {
    return Promise.reject(new Error('no server in unit tests'));
  }
}
// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace ServerConnection {
  export class NetworkError extends Error {}
  export class ResponseError extends Error {
    constructor(
      readonly response: Response,
      message: string
    ) {
      super(message);
    }
  }
}
