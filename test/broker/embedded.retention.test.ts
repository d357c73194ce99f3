import { embedded } from './embedded-harness.js';
import { retentionSuite } from './semantics/retention.js';

retentionSuite(embedded);
