import { overTcpWith } from './tcp-harness.js';
import { replicationSuite } from '../broker/semantics/replication.js';

replicationSuite((cluster) => overTcpWith(cluster === undefined ? {} : { cluster }));
