import { overTcp } from './tcp-harness.js';
import { leaseStartSuite } from '../broker/semantics/lease-start.js';

leaseStartSuite(overTcp);
