import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The path of the extension's REST API below the server's base URL. */
export const API_NAMESPACE = 'interview/api';

/** The error body every REST handler of the server extension answers with. */
export interface IErrorBody {
  error: {
    code: string;
    message: string;
    field?: string;
  };
}

/**
 * A failed call to the extension's API. `code` is the server's stable
 * snake_case code (or `network_error` / `invalid_response` when the server's
 * answer never arrived or was not JSON); `status` is the HTTP status, 0 when
 * no response came back.
 */
export class APIError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
    readonly field?: string
  ) {
    super(message);
    this.name = 'APIError';
  }
}

function isErrorBody(value: unknown): value is IErrorBody {
  if (typeof value !== 'object' || value === null || !('error' in value)) {
    return false;
  }
  const error: unknown = value.error;
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof error.code === 'string' &&
    'message' in error &&
    typeof error.message === 'string'
  );
}

/**
 * Call the extension's REST API: `endPoint` is relative to
 * `<baseUrl>/interview/api`. Resolves with the parsed JSON body (or
 * `undefined` for an empty one, e.g. 204); rejects with an `APIError`.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (reason) {
    const message = reason instanceof Error ? reason.message : String(reason);
    throw new APIError(
      `cannot reach the server: ${message}`,
      'network_error',
      0
    );
  }

  const text = await response.text();
  let body: unknown = undefined;
  let isJSON = text.length === 0;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
      isJSON = true;
    } catch {
      // Not JSON: a proxy's or Jupyter's own HTML error page, reported below.
    }
  }

  if (!response.ok) {
    if (isErrorBody(body)) {
      const { code, message, field } = body.error;
      throw new APIError(message, code, response.status, field);
    }
    throw new APIError(
      `the server answered ${response.status} ${response.statusText}`.trim(),
      'http_error',
      response.status
    );
  }
  if (!isJSON) {
    throw new APIError(
      `the server answered ${response.status} with a body that is not JSON`,
      'invalid_response',
      response.status
    );
  }
  return body as T;
}
