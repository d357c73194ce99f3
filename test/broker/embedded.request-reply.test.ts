import { embedded } from './embedded-harness.js';
import { requestReplySuite } from './semantics/request-reply.js';

requestReplySuite(embedded);
