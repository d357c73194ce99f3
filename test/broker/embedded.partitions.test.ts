import { embedded } from './embedded-harness.js';
import { partitionsSuite } from './semantics/partitions.js';

partitionsSuite(embedded);
