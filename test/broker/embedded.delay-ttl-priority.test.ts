import { embedded } from './embedded-harness.js';
import { delayTtlPrioritySuite } from './semantics/delay-ttl-priority.js';

delayTtlPrioritySuite(embedded);
