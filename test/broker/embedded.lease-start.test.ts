import { embedded } from './embedded-harness.js';
import { leaseStartSuite } from './semantics/lease-start.js';

leaseStartSuite(embedded);
