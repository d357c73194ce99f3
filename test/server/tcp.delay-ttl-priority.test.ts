import { overTcp } from './tcp-harness.js';
import { delayTtlPrioritySuite } from '../broker/semantics/delay-ttl-priority.js';

delayTtlPrioritySuite(overTcp);
