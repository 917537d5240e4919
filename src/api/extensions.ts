/**
 * The LXD API extensions the manager really implements. Clients gate behaviour on these names, so this
 * list only grows when a feature is in place end to end (and falls back to simpler client paths otherwise).
 */
export const API_EXTENSIONS: readonly string[] = [
  'certificate_token',
  'certificate_update',
  'clustering',
  'projects',
  'resources',
  // Images and profiles across the fleet (src/api/routes/images.ts, profiles.ts).
  'image_create_aliases',
  // Instances (src/api/routes/instances.ts).
  'api_filtering',
  'cluster_internal_copy',
  'container_only_migration',
  'container_full',
  'instance_all_projects',
  'instance_get_full',
  'instances',
  // Exec, console, files and logs (src/api/routes/instance-io.ts, websocket.ts).
  'console',
  'container_exec_recording',
  'container_exec_signal_handling',
  'container_exec_user_group_cwd',
  'directory_manipulation',
  'file_append',
  'file_delete',
  'file_get_symlink',
  'file_symlinks',
  'instance_file_head',
];
