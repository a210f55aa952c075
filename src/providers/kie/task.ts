// A Kie task record as a TaskStatus. recordInfo answers and callbacks carry the same fields: `state`
// (waiting | queuing | generating | success | fail), `resultJson` (a JSON string holding
// `{"resultUrls": [..]}`, null until success), `failCode` and `failMsg`.
import { asRecord } from '../http.ts';
import type { TaskStatus } from '../types.ts';
import { protocolError, taskFailure, urlsOf } from '../envelope.ts';

const PENDING_STATES = new Set(['waiting', 'queuing', 'generating']);

export function taskStatusOf(record: Record<string, unknown>): TaskStatus {
  const state = record.state;
  if (typeof state === 'string' && PENDING_STATES.has(state)) return { state: 'pending' };
  if (state === 'success') {
    const urls = resultUrlsOf(record.resultJson);
    if (urls.length === 0) throw protocolError('kie', 'a successful task has no result URLs');
    return { state: 'completed', outputs: urls.map((url) => ({ url })) };
  }
  if (state === 'fail') return { state: 'failed', error: taskFailure('kie', record.failCode, record.failMsg) };
  throw protocolError('kie', `unknown task state ${JSON.stringify(state)}`);
}

/** `resultJson` as documented (a JSON string), or already parsed as some answers may carry it. */
function resultUrlsOf(resultJson: unknown): string[] {
  let result: unknown = resultJson;
  if (typeof resultJson === 'string') {
    try {
      result = JSON.parse(resultJson);
    } catch {
      throw protocolError('kie', 'resultJson is not JSON');
    }
  }
  return urlsOf(asRecord(result).resultUrls);
}
