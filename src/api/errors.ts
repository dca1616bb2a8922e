import { BerthError, type ErrorCode } from '../base/errors';

const STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  not_found: 404,
  conflict: 409,
  not_modified: 304,
  forbidden: 403,
  unauthorized: 401,
  unavailable: 503,
  not_implemented: 501,
  insufficient_storage: 507,
  internal: 500,
};

/** The one place where domain errors become HTTP statuses; anything else is a bug (500). */
export function httpError(e: unknown): { status: number; message: string; bug: boolean } {
  if (e instanceof BerthError) return { status: STATUS[e.code], message: e.message, bug: false };
  return { status: 500, message: e instanceof Error ? e.message : String(e), bug: true };
}
