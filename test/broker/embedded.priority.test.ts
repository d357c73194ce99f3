import { embedded } from './embedded-harness.js';
import { prioritySuite } from './semantics/priority.js';

prioritySuite(embedded);
