import { embedded } from './embedded-harness.js';
import { acksLeasesSuite } from './semantics/acks-leases.js';

acksLeasesSuite(embedded);
