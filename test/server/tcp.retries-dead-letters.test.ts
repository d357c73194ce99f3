import { overTcp } from './tcp-harness.js';
import { retriesDeadLettersSuite } from '../broker/semantics/retries-dead-letters.js';

retriesDeadLettersSuite(overTcp);
