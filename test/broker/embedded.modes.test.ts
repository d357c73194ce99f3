import { embedded } from './embedded-harness.js';
import { modesSuite } from './semantics/modes.js';

modesSuite(embedded);
