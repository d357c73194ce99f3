import { embeddedWith } from './embedded-harness.js';
import { replicationSuite } from './semantics/replication.js';

replicationSuite((cluster) => embeddedWith(cluster === undefined ? {} : { cluster }));
