export { AmqpServer, type AmqpServerOptions, type AmqpTlsOptions } from './amqp-server.js';
export { fileTopologyStore, NO_TOPOLOGY_STORE, type TopologyStore } from './topology-store.js';
