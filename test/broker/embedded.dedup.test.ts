import { embedded } from './embedded-harness.js';
import { dedupSuite } from './semantics/dedup.js';

dedupSuite(embedded);
