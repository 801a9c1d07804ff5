export { LocalDirectoryStorage } from './local-directory-storage.js';
