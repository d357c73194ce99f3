import { embedded } from './embedded-harness.js';
import { paritySuite } from './semantics/parity.js';

paritySuite(embedded);
