import { embedded } from './embedded-harness.js';
import { queuesSuite } from './semantics/queues.js';

queuesSuite(embedded);
