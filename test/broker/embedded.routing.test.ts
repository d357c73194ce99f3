import { embedded } from './embedded-harness.js';
import { routingSuite } from './semantics/routing.js';

routingSuite(embedded);
