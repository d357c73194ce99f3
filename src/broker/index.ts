/** The broker layer's public face. */
export { Broker, type BrokerOptions } from './broker.js';
export { SubjectPattern } from './subject.js';
