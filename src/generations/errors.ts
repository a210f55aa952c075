// Errors a generation request can meet before any work starts; the HTTP layer maps each code to a status.
export type GenerationErrorCode =
  /** No such model in the catalogue (404 on /api/infer). */
  | 'unknown_model'
  /** The input image is refused: not an image, too large, unreachable, or a private address (400). */
  | 'bad_input'
  /** Not found, or not the caller's (404: another user's generation looks exactly like a missing one). */
  | 'not_found'
  /** A provider callback that does not check out (401). */
  | 'bad_callback';

export class GenerationError extends Error {
  override name = 'GenerationError';
  constructor(
    readonly code: GenerationErrorCode,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

/**
 * The process is stopping while a generation waits on its provider: nothing is settled, the attempt
 * (with the provider's task id) stays recorded, and the generation is resumed by the next processor.
 */
export class StoppingError extends Error {
  override name = 'StoppingError';
  constructor() {
    super('the process is stopping; the generation will be resumed');
  }
}
