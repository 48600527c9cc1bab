/**
 * The one error the guest pipeline reports to its user: a sentence saying
 * what is missing or which command failed and what to do about it, printed
 * as it is, never with a stack trace.
 */
export class GuestsError extends Error {
  override name = 'GuestsError';
}
