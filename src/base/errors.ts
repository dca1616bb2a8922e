/**
 * Expected failures carry a code; anything thrown that is not a BerthError
 * is a bug. The API maps codes to HTTP statuses in exactly one place
 * (src/api/errors.ts), the CLI prints the message and exits non-zero.
 */
export type ErrorCode =
  | 'invalid_argument' // the caller's input is wrong (400)
  | 'not_found' // the named thing does not exist (404)
  | 'conflict' // the thing exists or is in the wrong state (409)
  | 'not_modified' // the request asked for the state it is already in (304)
  | 'forbidden' // not allowed for this object (403)
  | 'unauthorized' // credentials missing or refused (401)
  | 'unavailable' // a dependency is missing or not responding (503)
  | 'not_implemented' // asked of a part that cannot do it (501), e.g. logs of the none driver
  | 'insufficient_storage' // the data root is (nearly) full (507)
  | 'internal'; // an expected failure of the host, e.g. runc refused (500)

export class BerthError extends Error {
  /** The exit code of a command whose failure this is (a build's RUN): docker's errorDetail.code. */
  readonly exitCode?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; exitCode?: number },
  ) {
    super(message, options);
    this.name = 'BerthError';
    if (options?.exitCode !== undefined) this.exitCode = options.exitCode;
  }
}

export const invalidArgument = (msg: string) => new BerthError('invalid_argument', msg);
export const notFound = (msg: string) => new BerthError('not_found', msg);
export const conflict = (msg: string) => new BerthError('conflict', msg);
export const notModified = (msg: string) => new BerthError('not_modified', msg);
export const unauthorized = (msg: string) => new BerthError('unauthorized', msg);
export const internal = (msg: string, cause?: unknown) => new BerthError('internal', msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new BerthError('unavailable', msg, { cause });

/** A Node system error (fs, net, child_process) with its errno code. */
export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
