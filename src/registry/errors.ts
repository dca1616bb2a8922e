/**
 * The distribution spec's error codes, each with the status it is answered
 * with. Handlers throw RegistryError; the server writes it as the spec's body
 * `{"errors":[{code, message, detail}]}` in one place.
 */
export const ERROR_STATUS = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  /** distribution's, for a bad `n` of a paginated list. */
  PAGINATION_NUMBER_INVALID: 400,
} as const;

export type RegistryErrorCode = keyof typeof ERROR_STATUS;

export class RegistryError extends Error {
  readonly status: number;
  /** Headers the answer must carry (a 401's challenge). */
  headers: Record<string, string> = {};
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly detail?: unknown,
    status?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
    this.status = status ?? ERROR_STATUS[code];
  }

  body(): { errors: { code: string; message: string; detail?: unknown }[] } {
    return { errors: [{ code: this.code, message: this.message, ...(this.detail !== undefined ? { detail: this.detail } : {}) }] };
  }
}

export const regErr = (code: RegistryErrorCode, message: string, detail?: unknown, status?: number) =>
  new RegistryError(code, message, detail, status);
