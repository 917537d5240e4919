import type { FastifyBaseLogger } from 'fastify';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  HostUnavailableError,
  InternalError,
  NotFoundError,
  PayloadTooLargeError,
  PreconditionFailedError,
  UpstreamError,
} from '../errors/index.js';
import type { LxdErrorResponse } from '../lxd/types.js';
import { errorEnvelope } from './envelope.js';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
}

function isFastifyError(err: unknown): err is FastifyLikeError {
  return err instanceof Error && typeof (err as FastifyLikeError).statusCode === 'number';
}

/**
 * The one place where any error becomes LXD's error envelope. The HTTP status always equals `error_code`.
 * Unknown errors are logged and become a 500 with a generic message: no stack reaches a client.
 */
export function toErrorEnvelope(err: unknown, log: FastifyBaseLogger): LxdErrorResponse {
  if (err instanceof BadRequestError) return errorEnvelope(400, err.message);
  if (err instanceof ForbiddenError) return errorEnvelope(403, err.message);
  if (err instanceof NotFoundError) return errorEnvelope(404, err.message);
  if (err instanceof ConflictError) return errorEnvelope(409, err.message);
  if (err instanceof PreconditionFailedError) return errorEnvelope(412, err.message);
  if (err instanceof PayloadTooLargeError) return errorEnvelope(413, err.message);
  if (err instanceof InternalError) return errorEnvelope(500, err.message);
  if (err instanceof HostUnavailableError) return errorEnvelope(503, err.message);
  if (err instanceof UpstreamError) {
    // Pass the host's own status and text through, as LXD clients match on exact strings.
    const status = err.status >= 400 && err.status < 600 ? err.status : 500;
    return errorEnvelope(status, err.lxdError);
  }
  if (isFastifyError(err)) {
    const status = err.statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return errorEnvelope(413, 'Request body too large');
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError) {
      return errorEnvelope(400, `Invalid JSON body: ${err.message}`);
    }
    if (status >= 400 && status < 500) return errorEnvelope(status, err.message);
  }
  if (err instanceof SyntaxError) return errorEnvelope(400, `Invalid JSON body: ${err.message}`);
  log.error({ err }, 'unhandled error');
  return errorEnvelope(500, 'Internal server error');
}
