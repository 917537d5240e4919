import type { LxdAsyncResponse, LxdErrorResponse, LxdOperation, LxdSyncResponse } from '../lxd/types.js';

/** LXD's sync envelope: all seven keys, always. */
export function syncEnvelope<T>(metadata: T): LxdSyncResponse<T> {
  return {
    type: 'sync',
    status: 'Success',
    status_code: 200,
    operation: '',
    error_code: 0,
    error: '',
    metadata,
  };
}

export function asyncEnvelope(op: LxdOperation): LxdAsyncResponse {
  return {
    type: 'async',
    status: 'Operation created',
    status_code: 100,
    operation: `/1.0/operations/${op.id}`,
    error_code: 0,
    error: '',
    metadata: op,
  };
}

export function errorEnvelope(code: number, message: string): LxdErrorResponse {
  return {
    type: 'error',
    status: '',
    status_code: 0,
    operation: '',
    error_code: code,
    error: message,
    metadata: null,
  };
}
