/** The server layer's public face. */
export { WeirServer, type ServerOptions, type ServerTlsOptions } from './server.js';
export { type ClientIdentity } from './connection.js';
export { jsonLogger, silentLogger, isLogLevel, type Logger, type LogLevel } from './logger.js';
export { CALL_METHODS } from './calls.js';
export { freePort } from './free-port.js';
