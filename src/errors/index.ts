/**
 * Typed domain errors. Domain code throws these without any HTTP knowledge; `api/errors.ts` is the one
 * place that turns them (and anything else) into LXD's error envelope.
 */

export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

/** The caller is not allowed to do this (LXD answers 403 `not authorized`). */
export class ForbiddenError extends Error {
  override name = 'ForbiddenError';
  constructor(message = 'not authorized') {
    super(message);
  }
}

export class NotFoundError extends Error {
  override name = 'NotFoundError';
  constructor(message = 'not found') {
    super(message);
  }
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}

export class PreconditionFailedError extends Error {
  override name = 'PreconditionFailedError';
}

export class PayloadTooLargeError extends Error {
  override name = 'PayloadTooLargeError';
}

/** A request that cannot be served because the manager is in the wrong state for it (LXD uses 500 for these). */
export class InternalError extends Error {
  override name = 'InternalError';
}

/** A host could not be reached at all (connection refused, timeout, TLS failure). */
export class HostUnavailableError extends Error {
  override name = 'HostUnavailableError';
  constructor(
    readonly host: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Host "${host}" is unavailable: ${reason}`, options);
  }
}

/** A host answered with an LXD error. Keeps the context so the client sees which host failed and why. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly host: string,
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly lxdError: string,
  ) {
    super(lxdError);
  }
}

/** A host's 404: what was asked for is not (or no longer) there. */
export function isUpstreamNotFound(err: unknown): boolean {
  return err instanceof UpstreamError && err.status === 404;
}

/** For `.catch()` on a removal or rename that may already have happened: a 404 is success, else rethrown. */
export function ignoreNotFound(err: unknown): void {
  if (!isUpstreamNotFound(err)) throw err;
}
