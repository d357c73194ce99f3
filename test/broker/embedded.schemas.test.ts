import { embedded } from './embedded-harness.js';
import { schemasSuite } from './semantics/schemas.js';

schemasSuite(embedded);
