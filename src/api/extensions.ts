/**
 * The LXD API extensions the manager really implements. Clients gate behaviour on these names, so this
 * list only grows when a feature is in place end to end (and falls back to simpler client paths otherwise).
 */
export const API_EXTENSIONS: readonly string[] = [
  'certificate_token',
  'certificate_update',
  'clustering',
  'projects',
];
