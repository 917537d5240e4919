/**
 * Images across the fleet: the merged view of what each host holds (lists by fingerprint, aliases by
 * name, LXD's prefix lookup), distribution of new images to every host as one all-or-nothing fleet
 * task, and the repair of hosts that are missing images.
 */
export {
  ImageCatalog,
  IMAGE_HOSTS_FIELD,
  plainAlias,
  plainImage,
  resolveAlias,
  resolveImage,
  sortedAliases,
  sortedImages,
} from './catalog.js';
export type { FleetAlias, FleetImage, FleetImageScan, ImageCatalogOptions } from './catalog.js';
export { FleetImages, deleteImageOnHost } from './service.js';
export type { FleetImagesOptions, ImageAliasRequest, ImagePutRequest } from './service.js';
export { spoolUpload } from './spool.js';
export type { SpooledImage } from './spool.js';
export { MultipartFingerprint, multipartBoundary } from './multipart.js';
export { copyBetweenHosts, endpointOf, uploadToHost } from './transfer.js';
export type { CopyOptions, HostEndpointInfo, TransferHooks, UploadHeaders } from './transfer.js';
