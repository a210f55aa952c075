// Where a fal request lives. fal's queue URLs are not `{model}/requests/ID`: they name the model's app
// only (`fal-ai/nano-banana/edit` → `fal-ai/nano-banana/requests/ID`), and fal says to use the URLs it
// returns. So our task id is the returned response URL itself, relative to the queue host
// (`fal-ai/nano-banana/requests/ID`), from which `status()` finds both URLs again with no state kept.
import { protocolError } from './errors.ts';

/** A model id's app, as fal's own client reads it: owner and alias, the first two path segments. */
export function appOf(model: string): string {
  return model.split('/').filter(Boolean).slice(0, 2).join('/');
}

/** The task id for a request, as a webhook (which carries only the request id) rebuilds it. */
export const taskIdFor = (app: string, requestId: string) => `${app}/requests/${requestId}`;

/** The task id from a submit's answer: its response URL (or status URL less `/status`). */
export function taskIdFromSubmit(json: Record<string, unknown>, queueBaseUrl: string): string {
  const requestId = typeof json.request_id === 'string' ? json.request_id : '';
  const responseUrl =
    typeof json.response_url === 'string' ? json.response_url : typeof json.status_url === 'string' ? json.status_url.replace(/\/status$/, '') : '';
  if (!requestId || !responseUrl) throw protocolError('the submit answer has no request_id or response_url');
  if (!responseUrl.endsWith(`/requests/${requestId}`)) throw protocolError(`unexpected response_url ${responseUrl}`);
  const base = `${queueBaseUrl.replace(/\/+$/, '')}/`;
  // Off the configured host (should fal ever answer so), the absolute URL is kept as the id.
  return responseUrl.startsWith(base) ? responseUrl.slice(base.length) : responseUrl;
}

/** The response and status URLs of a task id. */
export function taskUrls(taskId: string, queueBaseUrl: string): { response: string; status: string } {
  if (!/\/requests\/[^/]+$/.test(taskId)) throw protocolError(`not a fal task id: ${taskId}`);
  const response = /^https?:\/\//.test(taskId) ? taskId : `${queueBaseUrl.replace(/\/+$/, '')}/${taskId}`;
  return { response, status: `${response}/status` };
}
