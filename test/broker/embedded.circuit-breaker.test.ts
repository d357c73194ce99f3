import { embedded } from './embedded-harness.js';
import { circuitBreakerSuite } from './semantics/circuit-breaker.js';

circuitBreakerSuite(embedded);
