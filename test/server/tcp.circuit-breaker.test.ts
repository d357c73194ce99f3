import { overTcp } from './tcp-harness.js';
import { circuitBreakerSuite } from '../broker/semantics/circuit-breaker.js';

circuitBreakerSuite(overTcp);
