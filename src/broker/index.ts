/** The broker layer's public face. */
export { Broker, type BrokerOptions } from './broker.js';
export { SubjectPattern } from './subject.js';
export { Access, OPEN_PRINCIPAL, parsePermission, type Principal } from './access.js';
export { AUDIT_CHANNEL_NAME, type AuditEvent } from './audit.js';
export { Authenticator, type Door, type ScramChallenge } from './authenticator.js';
export { type ConnectOptions } from './broker.js';
export {
  SINGLE_NODE_STATUS,
  type ClusterView,
  type ClusterNodeStatus,
  type ClusterStatus,
  type ClusterStreamStatus,
} from './cluster-view.js';
export { UserStore, USERS_FILE, checkPassword } from './users.js';
export { transactionAborted, transactionRecoveredChannel } from './transactions.js';
export { readJsonFile, writeJsonFile } from './metadata-file.js';
