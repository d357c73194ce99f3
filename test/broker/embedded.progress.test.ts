import { embedded } from './embedded-harness.js';
import { progressSuite } from './semantics/progress.js';

progressSuite(embedded);
