import { overTcp } from './tcp-harness.js';
import { acksLeasesSuite } from '../broker/semantics/acks-leases.js';

acksLeasesSuite(overTcp);
