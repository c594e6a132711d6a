import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Base path of the REST routes served by `jupyter_dataops.server`. */
export const API_NAMESPACE = 'dataops/api';

/** An error answered by the DataOps REST API (or the network), with a message for people. */
export class DataOpsApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null
  ) {
    super(message);
  }
}

/**
 * Call a route under /dataops/api/ and return its JSON body.
 *
 * ServerConnection adds the token / XSRF header, so POSTs pass Jupyter's checks.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const requestUrl = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(requestUrl, init, settings);
  } catch (error) {
    throw new DataOpsApiError(
      `Cannot reach the Jupyter server (${String(error)}). Check that it is still running.`,
      null
    );
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 404 && (data === null || !data.message)) {
      throw new DataOpsApiError(
        'The DataOps server extension does not answer. Enable it with ' +
          '`jupyter server extension enable jupyter_dataops.server` and restart Jupyter.',
        404
      );
    }
    const message =
      data && data.message ? data.message : `${response.status} ${response.statusText}`;
    throw new DataOpsApiError(message, response.status);
  }
  return data as T;
}

/** The message of an error for people: the server's own, or the error's text. */
export function errorText(error: unknown): string {
  if (error instanceof DataOpsApiError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
