import { embedded } from './embedded-harness.js';
import { streamsSuite } from './semantics/streams.js';

streamsSuite(embedded);
