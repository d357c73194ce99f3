import { embedded } from './embedded-harness.js';
import { replaySuite } from './semantics/replay.js';

replaySuite(embedded);
