import { embedded } from './embedded-harness.js';
import { restartSuite } from './semantics/restart.js';

restartSuite(embedded);
