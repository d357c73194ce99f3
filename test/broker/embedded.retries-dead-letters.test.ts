import { embedded } from './embedded-harness.js';
import { retriesDeadLettersSuite } from './semantics/retries-dead-letters.js';

retriesDeadLettersSuite(embedded);
