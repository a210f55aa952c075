// Kie's completion callback: `{code: 200 | 501, msg, data: {taskId, state, resultJson, failCode,
// failMsg, …}}`. Accounts that enable webhook signing get `X-Webhook-Timestamp` (unix seconds) and
// `X-Webhook-Signature` = base64(HMAC-SHA256(key, taskId + "." + timestamp)). The signature covers the
// task id and the time only, not the body, so the timestamp must be fresh: an old signature for a task
// could otherwise be replayed with any body.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { asRecord } from '../http.ts';
import { ProviderError, type CallbackEvent, type CallbackRequest } from '../types.ts';
import { messageOf, numericCode, protocolError, taskFailure, taskIdOf } from '../envelope.ts';
import { taskStatusOf } from './task.ts';

export interface CallbackVerification {
  /** Unset: callbacks are taken unsigned (the account has not enabled signing). */
  hmacKey?: string;
  /** How far the signed timestamp may be from now, either way. */
  toleranceSeconds: number;
  now?: () => number;
}

export function kieSignature(hmacKey: string, taskId: string, timestamp: string): string {
  return createHmac('sha256', hmacKey).update(`${taskId}.${timestamp}`).digest('base64');
}

export function parseKieCallback(request: CallbackRequest, verification: CallbackVerification): CallbackEvent {
  let body: Record<string, unknown>;
  try {
    body = asRecord(JSON.parse(request.rawBody.toString('utf8')));
  } catch {
    throw protocolError('kie', 'the callback body is not JSON');
  }
  const data = asRecord(body.data);
  // Documented as taskId; some deliveries carry task_id.
  const taskId = taskIdOf(data.taskId ?? data.task_id);
  if (verification.hmacKey) verify(request, taskId, verification.hmacKey, verification);
  if (!taskId) throw protocolError('kie', 'the callback carries no taskId');
  return { providerTaskId: taskId, status: callbackStatus(body, data) };
}

function callbackStatus(body: Record<string, unknown>, data: Record<string, unknown>) {
  if (data.state !== undefined && data.state !== null) return taskStatusOf(data);
  // Older callbacks carry no state: the envelope code alone tells success from failure.
  const code = numericCode(body.code);
  if (code === 200) return taskStatusOf({ ...data, state: 'success' });
  if (code === undefined) throw protocolError('kie', 'the callback carries neither a state nor a code');
  return { state: 'failed' as const, error: taskFailure('kie', data.failCode ?? code, data.failMsg ?? messageOf(body)) };
}

function verify(request: CallbackRequest, taskId: string | undefined, hmacKey: string, verification: CallbackVerification): void {
  const refuse = (why: string) => new ProviderError('kie', 'bad_signature', `kie: callback refused, ${why}`);
  const timestamp = request.headers['x-webhook-timestamp']?.trim();
  const signature = request.headers['x-webhook-signature']?.trim();
  if (!timestamp || !signature) throw refuse('it is not signed');
  if (!/^\d+$/.test(timestamp)) throw refuse('the timestamp is not unix seconds');
  const nowSeconds = Math.floor((verification.now ?? Date.now)() / 1000);
  if (Math.abs(nowSeconds - Number(timestamp)) > verification.toleranceSeconds) throw refuse('the timestamp is outside the tolerance window');
  if (!taskId) throw refuse('there is no taskId to check the signature against');
  const expected = Buffer.from(kieSignature(hmacKey, taskId, timestamp));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw refuse('the signature does not match');
}
