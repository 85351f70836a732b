export { ImageImporter, type ImageImporterOptions, type ImportedImage } from './importer.js';
export { parseImageUri, type ImageReference } from './image-uri.js';
export { buildErofs } from './erofs.js';
