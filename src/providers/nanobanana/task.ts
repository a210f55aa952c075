// NanoBanana task records and callbacks as TaskStatus. Results come as `resultImageUrl` (a string, or
// an array in some answers) or `resultUrls`; `originImageUrl` (Google's own link, alive 10 minutes)
// is the last resort. Failure codes are the callbacks' ones: 400 content policy, 500/501 failed.
import { asRecord } from '../http.ts';
import type { CallbackEvent, CallbackRequest, TaskStatus } from '../types.ts';
import { messageOf, numericCode, protocolError, taskFailure, taskIdOf, urlsOf } from '../envelope.ts';

/** successFlag of record-info. */
const GENERATING = 0;
const SUCCESS = 1;
const CREATE_FAILED = 2;
const GENERATE_FAILED = 3;

export function resultUrlsOf(...containers: Record<string, unknown>[]): string[] {
  for (const container of containers) {
    for (const field of ['resultImageUrl', 'resultUrls', 'resultImageUrls', 'originImageUrl']) {
      const urls = urlsOf(container[field]);
      if (urls.length > 0) return urls;
    }
  }
  return [];
}

function completed(urls: string[]): TaskStatus {
  if (urls.length === 0) throw protocolError('nanobanana', 'a successful task has no result URL');
  return { state: 'completed', outputs: urls.map((url) => ({ url })) };
}

/** The `data` of a record-info answer. */
export function recordStatus(data: Record<string, unknown>): TaskStatus {
  const flag = numericCode(data.successFlag);
  if (flag === GENERATING) return { state: 'pending' };
  if (flag === SUCCESS) return completed(resultUrlsOf(asRecord(data.response), data));
  if (flag === CREATE_FAILED || flag === GENERATE_FAILED) {
    return { state: 'failed', error: taskFailure('nanobanana', data.errorCode, data.errorMessage) };
  }
  throw protocolError('nanobanana', `unknown successFlag ${JSON.stringify(data.successFlag)}`);
}

/**
 * `{code, msg, data: {taskId, info: {resultImageUrl}}}`, unsigned (our token in the URL authenticates it).
 * Some callbacks come in the record shape instead: `code` 200 for the delivery, the outcome in
 * `data.successFlag` / `data.response` as record-info has it; both are read.
 */
export function parseNanoBananaCallback(request: CallbackRequest): CallbackEvent {
  let body: Record<string, unknown>;
  try {
    body = asRecord(JSON.parse(request.rawBody.toString('utf8')));
  } catch {
    throw protocolError('nanobanana', 'the callback body is not JSON');
  }
  const data = asRecord(body.data);
  const providerTaskId = taskIdOf(data.taskId);
  if (!providerTaskId) throw protocolError('nanobanana', 'the callback carries no taskId');
  if (data.successFlag !== undefined && data.successFlag !== null) return { providerTaskId, status: recordStatus(data) };
  const code = numericCode(body.code);
  if (code === undefined) throw protocolError('nanobanana', 'the callback carries no code');
  if (code === 200) return { providerTaskId, status: completed(resultUrlsOf(asRecord(data.info), data)) };
  return { providerTaskId, status: { state: 'failed', error: taskFailure('nanobanana', code, messageOf(body)) } };
}
