// The controls domain's refusals; src/http/errors.ts maps each code to an HTTP status.
export type ControlsErrorCode = 'paused' | 'not_found' | 'already_resumed' | 'invalid';

export class ControlsError extends Error {
  override name = 'ControlsError';
  constructor(
    readonly code: ControlsErrorCode,
    message: string,
    /** For `invalid`: the body field at fault. For `paused`: what the user may be told. */
    readonly detail: { field?: string; scope?: string; automatic?: boolean } = {},
  ) {
    super(message);
  }
}
