import { embedded } from './embedded-harness.js';
import { fairnessSuite } from './semantics/fairness.js';

fairnessSuite(embedded);
