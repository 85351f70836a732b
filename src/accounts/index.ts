export { AccountDirectory, type AccessKey, type Account, type AccountQuotas, type AccountDirectoryDeps, type KeyOwner } from './accounts.js';
